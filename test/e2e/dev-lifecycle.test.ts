// `iotmq dev` as the machine sees it: a child process that owns its own children. Its MQTT ports are
// flags (never 1883/8883 here) and a taken one ends the start with what to do; kill -9 of the broker
// or of `iotmq dev` itself is recovered from without help (no orphan keeps a port, the next start
// reclaims one that did); SIGTERM while starting ends promptly; the MQTT password survives restarts
// and never reaches the output; every file in the data dir is the user's alone.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevMqtt } from '../../src/cli/dev-extension.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import { processesUnder } from './dev-stack.js';

let dir: string;
let ports: { plain: number; tls: number };
/** Every process started here; whatever a failed test left running is killed at the end. */
const started: CliProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-dev-lifecycle-'));
  ports = { plain: await freePort(), tls: await freePort() };
});
afterAll(async () => {
  await Promise.all(started.map((cli) => cli.stop('SIGKILL')));
  for (const pid of processesUnder(dir)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function startDev(...flags: string[]): CliProcess {
  const cli = startCli(['dev', '--port', '0', '--data-dir', dir, ...flags]);
  started.push(cli);
  return cli;
}
/** Resolves once `iotmq dev` printed its MQTT section (everything is up). */
const mqttUp = (cli: CliProcess) => cli.waitFor(/MQTT broker \(local cluster\)[\s\S]*mosquitto_pub[^\n]*\n/, 180_000);
const devMqtt = async () => (JSON.parse(await readFile(path.join(dir, 'dev.json'), 'utf8')) as { mqtt: DevMqtt }).mqtt;
/** /proc/<pid>/<what>, or '' for a process that is gone. */
const proc = (pid: number, what: 'cmdline' | 'stat') => {
  try {
    return readFileSync(`/proc/${pid}/${what}`, 'utf8');
  } catch {
    return '';
  }
};
const brokerPids = () => processesUnder(dir).filter((pid) => /\bbroker\0--config\0/.test(proc(pid, 'cmdline')));
/** Exists and is not a zombie. */
const alive = (pid: number) => /\) [^Z] /.test(proc(pid, 'stat'));

/** A round trip on the plain listener and a connect over TLS, with the credentials dev.json gives. */
async function mqttWorks(settings: DevMqtt): Promise<void> {
  const auth = { username: settings.username, password: settings.password, reconnectPeriod: 0, connectTimeout: 5_000 };
  const plain = await mqtt.connectAsync(`mqtt://127.0.0.1:${settings.ports.plain}`, auth);
  try {
    const got = new Promise<string>((resolve, reject) => {
      plain.on('message', (_t, payload) => resolve(payload.toString()));
      setTimeout(() => reject(new Error('no message within 5 s')), 5_000).unref();
    });
    await plain.subscribeAsync('lifecycle/1');
    await plain.publishAsync('lifecycle/1', 'hello');
    expect(await got).toBe('hello');
  } finally {
    await plain.endAsync();
  }
  const tls = await mqtt.connectAsync(`mqtts://127.0.0.1:${settings.ports.tls}`, {
    ...auth,
    ca: await readFile(settings.caFile),
  });
  await tls.endAsync();
}

async function modesUnder(root: string): Promise<string[]> {
  const wrong: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const mode = (await stat(file)).mode & 0o777;
    if (entry.isDirectory() ? mode !== 0o700 : entry.isFile() && mode !== 0o600)
      wrong.push(`${path.relative(root, file)} ${mode.toString(8)}`);
  }
  return wrong;
}

// Each test starts iotmq dev (tsx, a broker): on a loaded 2-core machine one start has taken 40 s.
describe('iotmq dev owns its processes', { timeout: 240_000 }, () => {
  let running: CliProcess;
  let first: DevMqtt;
  let password: string;

  it('refuses MQTT ports that are taken: exits 1 saying what to do, and leaves nothing running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const cli = startDev('--mqtt-port', String(taken), '--mqtts-port', String(ports.tls));
      const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 120_000))]);
      expect(code, cli.output()).toBe(1);
      expect(cli.output()).toContain(`port ${taken}`);
      expect(cli.output()).toMatch(/--mqtt-port/);
      expect(processesUnder(dir)).toEqual([]);
      // dev.json says so, and already holds the credentials the next start will use
      const failed = await devMqtt();
      expect(failed).toMatchObject({ state: 'failed', username: 'iotmq', ports: { plain: taken } });
      expect(failed.problem).toContain(`port ${taken}`);
      password = failed.password;
    } finally {
      blocker.close();
    }
  });

  it('refuses an ARM port that is taken, naming --port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const cli = startCli(['dev', '--port', String(taken), '--data-dir', dir]);
      started.push(cli);
      expect(await cli.exited, cli.output()).toBe(1);
      expect(cli.output()).toMatch(new RegExp(`port ${taken} \\(the ARM endpoint\\) is in use.*--port PORT`));
      expect(processesUnder(dir)).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('serves MQTT on the ports it was given; the banner points at the password, files are 0600, dirs 0700', async () => {
    running = startDev('--mqtt-port', String(ports.plain), '--mqtts-port', String(ports.tls));
    await mqttUp(running);
    first = await devMqtt();
    expect(first).toMatchObject({ ports, state: 'running', password });
    await mqttWorks(first);
    expect(running.output()).not.toContain(first.password);
    expect(running.output()).toContain(path.join(dir, 'dev.json'));
    // SQLite's own files (-wal, -shm), keys, dev.json, the broker's data: nothing for other users.
    const files = (await readdir(dir, { recursive: true })).map(String);
    expect(files).toEqual(expect.arrayContaining(['rp.db-wal', 'dev.json', 'ca-key.pem']));
    expect(await modesUnder(dir)).toEqual([]);
  });

  it('kill -9 of the broker: the supervisor starts it again and MQTT works again', async () => {
    const [pid] = brokerPids();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    await eventually('a new broker process', () => brokerPids().some((p) => p !== pid), 30_000);
    await eventually('MQTT back', () => mqttWorks(first).then(() => true), 30_000, 200);
  });

  it('kill -9 of iotmq dev: its broker goes with it; a restart without flags recovers with the same ports and password', async () => {
    running.child.kill('SIGKILL');
    await running.exited;
    await eventually('no process left under the data dir', () => processesUnder(dir).length === 0, 10_000);
    // as an earlier version left a data dir; and a file of the user's own beside iotmq's
    for (const file of ['rp.db', 'dev-state.json', 'local-cluster/cluster/cluster.db'])
      await chmod(path.join(dir, file), 0o644);
    await writeFile(path.join(dir, 'notes.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await chmod(path.join(dir, 'notes.sh'), 0o755);
    running = startDev();
    await mqttUp(running);
    expect(await modesUnder(dir)).toEqual(['notes.sh 755']);
    await rm(path.join(dir, 'notes.sh'));
    expect(await devMqtt()).toEqual(first);
    await mqttWorks(first);
    expect(running.output()).not.toContain(first.password);
  });

  it('a broker that outlived iotmq dev (stopped, deaf to its pipe) is reclaimed by the next start; a stranger is not', async () => {
    const [pid] = brokerPids();
    process.kill(pid!, 'SIGSTOP');
    running.child.kill('SIGKILL');
    await running.exited;
    expect(alive(pid!)).toBe(true);
    // a pid file naming someone else's process (as after pid reuse) must not get it killed
    const stranger = spawn('sleep', ['120'], { stdio: 'ignore' });
    const runDir = path.join(dir, 'local-cluster', 'workloads', 'run');
    const [brokerRecord] = (await readdir(runDir)).filter((name) => name.endsWith('.pid'));
    expect(brokerRecord).toBeDefined();
    const record = JSON.parse(await readFile(path.join(runDir, brokerRecord!), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(runDir, 'stranger.pid'), JSON.stringify({ ...record, pid: stranger.pid }));
    try {
      running = startDev();
      await mqttUp(running);
      expect(alive(pid!)).toBe(false);
      expect(stranger.exitCode).toBeNull();
      expect(alive(stranger.pid!)).toBe(true);
      await mqttWorks(first);
    } finally {
      stranger.kill('SIGKILL');
      await once(stranger, 'exit');
    }
  });

  it('stopping ends even when the broker does not act on SIGTERM: it is killed after the grace period', async () => {
    const [pid] = brokerPids();
    process.kill(pid!, 'SIGSTOP');
    const sent = Date.now();
    expect(await running.stop('SIGTERM'), running.output()).toBe(0);
    expect(Date.now() - sent).toBeLessThan(15_000);
    expect(alive(pid!)).toBe(false);
  });

  it('SIGTERM while starting up ends promptly and stops every child', async () => {
    expect(await running.stop('SIGTERM')).toBe(0);
    expect(running.output()).toContain('iotmq dev stopped.');
    expect(processesUnder(dir)).toEqual([]);
    expect(await devMqtt()).toEqual({ ...first, state: 'stopped' });
    const cli = startDev();
    await cli.waitFor(/starting the local cluster/, 120_000);
    const sent = Date.now();
    const code = await cli.stop('SIGTERM');
    // 5-10 s measured at load 12 on 2 cores: the start's synchronous work (CRDs, module loading under
    // tsx) delays the signal handler; the stop itself then takes well under a second
    expect(Date.now() - sent).toBeLessThan(20_000);
    expect(code, cli.output()).toBe(0);
    expect(processesUnder(dir)).toEqual([]);
    expect((await devMqtt()).state).toBe('stopped');
  });

  it('--mqtt-port 0 when the kept port is taken: another one, printed and kept; a second signal exits at once (130)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.plain, '127.0.0.1', resolve));
    const cli = startDev('--mqtt-port', '0');
    try {
      await mqttUp(cli);
    } finally {
      blocker.close();
    }
    const moved = await devMqtt();
    expect(moved).toMatchObject({ state: 'running', ports: { tls: ports.tls }, password: first.password });
    expect(moved.ports.plain).not.toBe(ports.plain);
    expect(cli.output()).toContain(`MQTT             127.0.0.1:${moved.ports.plain}`);
    await mqttWorks(moved); // the listener resource was updated to the new port
    expect(brokerPids()).toHaveLength(1);
    cli.child.kill('SIGINT');
    await cli.waitFor(/SIGINT: stopping iotmq dev/);
    cli.child.kill('SIGINT'); // before the first stop is done: a pending signal is coalesced, not queued
    expect(await cli.exited, cli.output()).toBe(130);
    await eventually('no process left under the data dir', () => processesUnder(dir).length === 0, 10_000);
  });
});
