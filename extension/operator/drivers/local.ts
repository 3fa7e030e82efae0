// The local driver: the same plan on this machine. A Deployment's container becomes a supervised
// `iotmq` child process with the container's arguments; mounted ConfigMaps and Secrets become
// files (<dir>/configmaps/<name>/<key>, <dir>/secrets/<name>/<key>); a Service is its port on
// 127.0.0.1. With one replica (all the renderer makes until the distributed broker lands) the
// broker binds the Service port itself: no extra hop, TLS stays end to end, and a port held by
// another program is seen before start (PortInUse) instead of as a crash loop.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { componentLogger } from '../../../src/common/log.js';
import type { ClusterClient, KubeObject } from '../../cluster/index.js';
import type { Driver, Layout, Plan, PlanOutcome } from '../plan.js';
import { iotmqCommand } from './iotmq-command.js';
import { reclaimProcesses } from './owned-processes.js';
import { isAccepting, isBindable } from './port-probe.js';
import { startSupervisor, type Supervisor } from './supervisor.js';

export interface LocalDriverOptions {
  /** Root of everything the driver writes: files, logs, broker data. */
  dir: string;
  /** Where referenced Secrets and ConfigMaps are read from (the local cluster). */
  cluster: ClusterClient;
  /** The `iotmq` command line (default: this very installation). */
  command?: string[];
}

export interface LocalDriver extends Driver {
  /** For tests and `iotmq dev`: the supervised process of a workload. */
  process(namespace: string, workload: string): Supervisor | undefined;
}

interface Workload {
  supervisor: Supervisor;
  ports: number[];
  env: Record<string, string>;
}

/** Where the driver keeps its children's pid records. */
const runDirOf = (dir: string) => path.join(dir, 'run');

/**
 * Ends what an earlier driver on `dir` left running (its process died without stopping its
 * children), so that their ports are free again; for a caller that checks ports before starting one.
 * A new driver does the same for each workload before it starts it.
 */
export function reclaimLocalWorkloads(dir: string): Promise<string[]> {
  return reclaimProcesses(runDirOf(dir));
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- Kubernetes manifests

export function createLocalDriver(options: LocalDriverOptions): LocalDriver {
  const log = componentLogger('operator.local-driver');
  const layout: Layout = {
    configMapsDir: path.join(options.dir, 'configmaps'),
    secretsDir: path.join(options.dir, 'secrets'),
    dataDir: path.join(options.dir, 'data'),
    bindAddress: '127.0.0.1',
  };
  const command = options.command ?? iotmqCommand();
  const workloads = new Map<string, Map<string, Workload>>();
  const files = new Map<string, Set<string>>();
  const servedPorts = new Map<string, Set<number>>();
  const probes = new Set<string>();
  const listeners: ((namespace: string) => void)[] = [];
  let stopped = false;
  const changed = (namespace: string) => listeners.forEach((listener) => listener(namespace));

  /** Writes a directory of files, touching only what changed (the broker reloads on change). */
  function writeDir(dir: string, entries: Record<string, string | Buffer>): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [key, content] of Object.entries(entries)) {
      const file = path.join(dir, key);
      const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
      if (existsSync(file) && readFileSync(file).equals(bytes)) continue;
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, bytes, { mode: 0o600 });
      renameSync(tmp, file); // atomic: a reader sees the old or the new file, never half of one
    }
    for (const existing of readdirSync(dir))
      if (!(existing in entries)) rmSync(path.join(dir, existing), { force: true });
  }

  async function volumeData(
    namespace: string,
    plan: Plan,
    volume: Any,
  ): Promise<Record<string, string | Buffer> | undefined> {
    if (volume.configMap) {
      const object =
        plan.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name) ??
        (await options.cluster.get({ apiVersion: 'v1', kind: 'ConfigMap' }, namespace, volume.configMap.name));
      return object ? { ...((object.data as Record<string, string>) ?? {}) } : undefined;
    }
    if (volume.secret) {
      const secret = await options.cluster.get(
        { apiVersion: 'v1', kind: 'Secret' },
        namespace,
        volume.secret.secretName,
      );
      if (!secret) return undefined;
      const data: Record<string, string | Buffer> = {};
      for (const [key, value] of Object.entries((secret.data as Record<string, string>) ?? {}))
        data[key] = Buffer.from(value, 'base64');
      Object.assign(data, (secret.stringData as Record<string, string>) ?? {});
      return data;
    }
    return undefined;
  }

  function probeUntilAccepting(namespace: string, port: number): void {
    const key = `${namespace}/${port}`;
    if (probes.has(key)) return;
    probes.add(key);
    void (async () => {
      const deadline = Date.now() + 60_000;
      while (!stopped && Date.now() < deadline && probes.has(key)) {
        if (await isAccepting(port)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      probes.delete(key);
      if (!stopped) changed(namespace);
    })();
  }

  return {
    layout,
    onChange: (listener) => void listeners.push(listener),
    process: (namespace, workload) => workloads.get(namespace)?.get(workload)?.supervisor,

    async portsInUse(namespace, ports) {
      const ours = new Set([...(workloads.get(namespace)?.values() ?? [])].flatMap((w) => w.ports));
      const inUse = new Set<number>();
      for (const port of new Set(ports)) if (!ours.has(port) && !(await isBindable(port))) inUse.add(port);
      return inUse;
    },

    async apply(plan: Plan): Promise<PlanOutcome> {
      const { namespace } = plan;
      const deployments = plan.objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
      const services = plan.objects.filter((o) => o.kind === 'Service');

      // Files first: a process must find its mounts when it starts.
      const wantedDirs = new Set<string>();
      for (const deployment of deployments) {
        const pod = (deployment.spec as Any).template.spec;
        for (const mount of pod.containers[0].volumeMounts as Any[]) {
          const volume = (pod.volumes as Any[]).find((v) => v.name === mount.name);
          if (!volume || volume.emptyDir) continue;
          const data = await volumeData(namespace, plan, volume);
          if (!data) continue; // render checked existence; a race with a deletion settles on the next reconcile
          writeDir(mount.mountPath, data);
          wantedDirs.add(mount.mountPath);
        }
      }
      for (const dir of files.get(namespace) ?? [])
        if (!wantedDirs.has(dir)) rmSync(dir, { recursive: true, force: true });
      files.set(namespace, wantedDirs);

      // Processes: one supervisor per Deployment with replicas; a changed command restarts it.
      const running = workloads.get(namespace) ?? new Map<string, Workload>();
      workloads.set(namespace, running);
      const wanted = new Set<string>();
      for (const deployment of deployments) {
        const spec = deployment.spec as Any;
        const container = spec.template.spec.containers[0];
        if ((spec.replicas ?? 1) < 1) continue;
        const name = deployment.metadata.name;
        wanted.add(name);
        const argv = [...command, ...(container.args as string[])];
        // the container's environment, as kubelet sets it (e.g. the broker's NODE_OPTIONS)
        const env: Record<string, string> = { IOTMQ_LOG_LEVEL: process.env.IOTMQ_LOG_LEVEL ?? 'info' };
        for (const { name, value } of (container.env as Array<{ name: string; value: string }>) ?? [])
          env[name] = value;
        const ports = ((container.ports as Any[]) ?? []).map((p) => p.containerPort as number);
        const current = running.get(name);
        if (current && isDeepStrictEqual(current.supervisor.command, argv) && isDeepStrictEqual(current.env, env)) {
          current.ports = ports;
          continue;
        }
        await current?.supervisor.stop();
        const dataMount = (container.volumeMounts as Any[]).find((m) => m.name === 'data');
        if (dataMount) mkdirSync(dataMount.mountPath, { recursive: true, mode: 0o700 });
        const supervisor = startSupervisor({
          command: argv,
          name: `${namespace}-${name}`,
          runDir: runDirOf(options.dir),
          logFile: path.join(options.dir, 'logs', `${namespace}-${name}.log`),
          cwd: options.dir,
          env,
          log,
          onChange: () => changed(namespace),
        });
        running.set(name, { supervisor, ports, env });
      }
      for (const [name, workload] of running) {
        if (wanted.has(name)) continue;
        running.delete(name);
        await workload.supervisor.stop();
        log.info({ namespace, workload: name }, 'workload removed');
      }

      // A removed Service is done when its port is closed: only then may a finalizer go.
      const ports = new Set(services.map((service) => (service.spec as Any).ports[0].port as number));
      for (const port of servedPorts.get(namespace) ?? []) {
        if (ports.has(port)) continue;
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && (await isAccepting(port)))
          await new Promise((resolve) => setTimeout(resolve, 50));
      }
      servedPorts.set(namespace, ports);

      // Readiness: a workload runs; a Service's port accepts connections.
      const outcome: PlanOutcome = { workloads: new Map(), services: new Map() };
      for (const deployment of deployments) {
        const name = deployment.metadata.name;
        const supervisor = running.get(name)?.supervisor;
        const replicas = (deployment.spec as Any).replicas ?? 1;
        outcome.workloads.set(
          name,
          replicas < 1
            ? { ready: true, message: 'Scaled to zero.' }
            : supervisor?.running
              ? { ready: true, message: `Running (pid ${supervisor.pid}).` }
              : {
                  ready: false,
                  message: `Process ${name} is not running (${supervisor?.restarts ?? 0} restarts); see ${path.join(options.dir, 'logs')}.`,
                },
        );
      }
      for (const service of services) {
        const port = (service.spec as Any).ports[0].port as number;
        const accepting = await isAccepting(port);
        if (!accepting) probeUntilAccepting(namespace, port);
        outcome.services.set(
          service.metadata.name,
          accepting
            ? { ready: true, message: `Port ${port} accepts connections.` }
            : { ready: false, message: `Waiting for port ${port} to accept connections.` },
        );
      }
      return outcome;
    },

    async stop() {
      stopped = true;
      await Promise.all([...workloads.values()].flatMap((m) => [...m.values()].map((w) => w.supervisor.stop())));
      workloads.clear();
    },
  };
}

export type { KubeObject };
