// A real Kubernetes control plane for tests: etcd + kube-apiserver, built from source by
// ./build.sh (cached outside the repo) and started here on free loopback ports.
//
// What you get: an API server with RBAC, a static admin token (group system:masters), the
// TokenRequest/TokenReview APIs (service-account tokens signed with a key pair generated per run),
// CRDs (apiextensions) and aggregation built in. What you do not get: there is no
// kube-controller-manager, scheduler or kubelet, so
//   - namespaces are not created for you ("default", "kube-system" and friends exist; anything else
//     must be created explicitly), and a namespace's ServiceAccount "default" is not created either;
//   - nothing is garbage-collected (ownerReferences are stored but never acted on), namespaces
//     deleted stay Terminating, Deployments never get Pods, Pods are never scheduled or run;
//   - the ServiceAccount admission plugin is disabled (it would insist on the missing "default" SA).
// Every startKube() gets its own etcd and temp dir, so test files can run in parallel.
//
// Usage from vitest:
//   const kube = useKube();                 // registers beforeAll/afterAll
//   it('…', async () => { const k = kube(); await kubeRequest(k, 'GET', '/version'); });
// or by hand: const k = await startKube(); try { … } finally { await k.stop(); }

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as https from 'node:https';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { stringify as toYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
export const KUBE_BUILD_SCRIPT = join(here, 'build.sh');

/** beforeAll timeout that covers a first build on a fresh 2-core machine (~15 min) plus start. */
export const KUBE_START_TIMEOUT_MS = 45 * 60_000;
/** Time allowed for etcd + kube-apiserver to become ready once the binaries exist. */
const READY_DEADLINE_MS = 120_000;
const POLL_INTERVAL_MS = 100;

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc';
/** Audience of tokens the API server itself accepts (--api-audiences). */
export const API_AUDIENCE = SERVICE_ACCOUNT_ISSUER;

export interface KubeFixture {
  /** kubeconfig with the server URL, its CA and the admin token (context "iotmq-test"). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Static bearer token of user "iotmq-admin" in group system:masters. */
  token: string;
  /** CA that signed the API server's self-signed serving certificate (PEM file). */
  caFile: string;
  /** CA as PEM text (for https.request's `ca`). */
  ca: string;
  /** gitVersion the binary was built as, e.g. "v1.37.2". */
  version: string;
  /** etcd client URL (http://127.0.0.1:<port>), for tests that want to look underneath. */
  etcdUrl: string;
  /** Temp dir holding etcd data, certs, keys and logs; removed by stop(). */
  dir: string;
  /** Kills both process groups, waits for them to exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Runs build.sh (a no-op in milliseconds when the stamp matches) and returns the bin dir. */
export async function ensureKubeBinaries(): Promise<string> {
  const child = spawn('bash', [KUBE_BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    process.stderr.write(d); // progress of a first build is worth seeing
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new Error(`${KUBE_BUILD_SCRIPT} failed (exit ${code}):\n${tail(err, 60)}`);
  }
  const bin = out.trim().split('\n').pop();
  if (!bin) throw new Error(`${KUBE_BUILD_SCRIPT} printed no bin directory`);
  return bin;
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
  done: boolean;
}

const live = new Set<Proc>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test process dies without stop(): take the process groups down with it.
  process.on('exit', () => {
    for (const p of live) killGroup(p, 'SIGKILL');
  });
}

function killGroup(p: Proc, signal: NodeJS.Signals): void {
  if (p.done || p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    /* already gone */
  }
}

function startProc(name: string, file: string, args: string[], log: string): Proc {
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    // detached: the child leads its own process group, so stop() can signal the whole group.
    child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const p: Proc = { name, child, log, done: false, exited: Promise.resolve() };
  p.exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      p.done = true;
      live.delete(p);
      resolve();
    });
    child.once('error', () => {
      p.done = true;
      live.delete(p);
      resolve();
    });
  });
  live.add(p);
  installExitHook();
  return p;
}

async function stopProc(p: Proc): Promise<void> {
  if (p.done) return;
  killGroup(p, 'SIGTERM');
  const timer = setTimeout(() => killGroup(p, 'SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(timer);
  killGroup(p, 'SIGKILL'); // anything left in the group
}

/** Distinct free loopback ports (all held open until all are chosen). */
async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

function logTail(p: Proc): string {
  try {
    return `--- last lines of ${p.log} ---\n${tail(readFileSync(p.log, 'utf8'), 40)}`;
  } catch {
    return '';
  }
}

/** Polls `probe` every POLL_INTERVAL_MS until it returns true; fails if a process exits or at the deadline. */
async function waitFor(what: string, probe: () => Promise<boolean>, procs: Proc[], deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    const dead = procs.find((p) => p.done);
    if (dead) {
      throw new Error(
        `${dead.name} exited (code ${dead.child.exitCode}, signal ${dead.child.signalCode}) while waiting for ${what}\n${logTail(dead)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${deadlineMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}\n${procs.map(logTail).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface KubeResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the response is JSON, otherwise the text. */
  body: T;
  text: string;
}

export interface KubeRequestOptions {
  /** Bearer token; defaults to the admin token. Pass null for an anonymous request. */
  token?: string | null;
  contentType?: string;
  /** Skip CA verification (only used while the CA file does not exist yet). */
  insecure?: boolean;
  timeoutMs?: number;
}

/**
 * One HTTPS request to the API server, trusting exactly the fixture's CA (scoped to this call: no
 * global TLS settings are touched). JSON bodies are serialised; JSON responses are parsed.
 */
export function kubeRequest<T = any>(
  kube: Pick<KubeFixture, 'server' | 'token' | 'ca'>,
  method: string,
  path: string,
  body?: unknown,
  opts: KubeRequestOptions = {},
): Promise<KubeResponse<T>> {
  const url = new URL(path, kube.server);
  const token = opts.token === undefined ? kube.token : opts.token;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers,
        ...(opts.insecure ? { rejectUnauthorized: false } : { ca: kube.ca }),
        agent: false,
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep text */
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The CA certificate that signed the serving cert kube-apiserver wrote into --cert-dir. */
function extractCa(certChainPem: string): string {
  const pems = certChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs = pems.map((pem) => ({ pem, x: new X509Certificate(pem) }));
  const ca = certs.find((c) => c.x.ca) ?? certs.find((c) => c.x.issuer === c.x.subject);
  if (!ca) throw new Error('no CA certificate in the API server serving certificate file');
  return `${ca.pem}\n`;
}

/** Starts etcd + kube-apiserver (building them first if needed) and waits until /readyz is 200. */
export async function startKube(): Promise<KubeFixture> {
  const bin = await ensureKubeBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'iotmq-kube-'));
  const procs: Proc[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // API server first (it would otherwise keep retrying etcd), then etcd.
      for (const p of [...procs].reverse()) await stopProc(p);
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;

    const etcd = startProc(
      'etcd',
      join(bin, 'etcd'),
      [
        '--name=iotmq-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=iotmq-test=${etcdPeerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync', // throw-away data: skip fsync, tests go faster
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
    );
    procs.push(etcd);

    // Credentials: service-account signing key pair and a static admin token.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const saPub = join(dir, 'sa.pub');
    const saKey = join(dir, 'sa.key');
    await writeFile(saPub, publicKey, { mode: 0o600 });
    await writeFile(saKey, privateKey, { mode: 0o600 });
    const token = randomBytes(32).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${token},iotmq-admin,iotmq-admin,"system:masters"\n`, { mode: 0o600 });
    const certDir = join(dir, 'certs');

    await waitFor(
      `etcd health at ${etcdUrl}/health`,
      async () => {
        const r = await httpGet(`${etcdUrl}/health`);
        return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === 'true';
      },
      procs,
      READY_DEADLINE_MS,
    );

    const api = startProc(
      'kube-apiserver',
      join(bin, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`, // self-signed serving cert + its CA are written here
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--api-audiences=${API_AUDIENCE}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        // Needs the "default" ServiceAccount, which only kube-controller-manager would create.
        '--disable-admission-plugins=ServiceAccount',
        '--service-cluster-ip-range=10.96.0.0/24',
        // No kubelets or nodes to advertise to: do not maintain the "kubernetes" Service endpoints
        // (a loopback advertise address is not a valid endpoint anyway).
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=0',
      ],
      join(dir, 'kube-apiserver.log'),
    );
    procs.push(api);

    const server = `https://127.0.0.1:${apiPort}`;
    // The serving cert appears in --cert-dir before the port opens; /readyz needs the admin token.
    let ca = '';
    await waitFor(
      `${server}/readyz`,
      async () => {
        if (!ca) {
          const crt = await readFile(join(certDir, 'apiserver.crt'), 'utf8').catch(() => '');
          if (!crt) return false;
          ca = extractCa(crt);
        }
        const r = await kubeRequest({ server, token, ca }, 'GET', '/readyz', undefined, { timeoutMs: 5_000 });
        return r.status === 200;
      },
      procs,
      READY_DEADLINE_MS,
    );

    const caFile = join(dir, 'ca.crt');
    await writeFile(caFile, ca);
    const version = (await kubeRequest<{ gitVersion: string }>({ server, token, ca }, 'GET', '/version')).body
      .gitVersion;

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfigPath,
      toYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'iotmq-test', cluster: { server, 'certificate-authority': caFile } }],
        users: [{ name: 'iotmq-admin', user: { token } }],
        contexts: [{ name: 'iotmq-test', context: { cluster: 'iotmq-test', user: 'iotmq-admin' } }],
        'current-context': 'iotmq-test',
      }),
      { mode: 0o600 },
    );

    return { kubeconfigPath, server, token, caFile, ca, version, etcdUrl, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * vitest helper: starts a fixture in beforeAll (building once if needed) and stops it in afterAll.
 * Returns an accessor to use inside tests.
 */
export function useKube(): () => KubeFixture {
  let kube: KubeFixture | undefined;
  beforeAll(async () => {
    kube = await startKube();
  }, KUBE_START_TIMEOUT_MS);
  afterAll(async () => {
    await kube?.stop();
  });
  return () => {
    if (!kube) throw new Error('kube fixture not started (useKube() must be called at describe/file level)');
    return kube;
  };
}
