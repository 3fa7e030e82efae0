// One supervised child process: started with the container's arguments, restarted with backoff
// when it exits (the backoff resets once it has stayed up a while), output appended to a log file.
// The child is ours for real: it reads the parent pipe (exits when this process is gone, however
// that ends), its pid record lets the next start reclaim it if it lingered anyway, and stop() ends
// it within a bound (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createBackoff } from '../../cluster/index.js';
import { forgetProcess, reclaimProcess, recordProcess } from './owned-processes.js';
import { PARENT_PIPE_ENV } from './parent-pipe.js';

export interface SupervisorOptions {
  name: string;
  command: string[];
  logFile: string;
  cwd?: string;
  env?: Record<string, string>;
  log: Logger;
  /** Called on every start and exit. */
  onChange(): void;
  /** A run this long resets the restart backoff. */
  stableAfterMs?: number;
  /** Where the child's pid record is kept (named after `name`); a previous one is reclaimed first. */
  runDir: string;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

export interface Supervisor {
  readonly command: string[];
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly running: boolean;
  stop(): Promise<void>;
}

export function startSupervisor(options: SupervisorOptions): Supervisor {
  const backoff = createBackoff({ initialMs: 250, maxMs: 15_000 });
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  let child: ChildProcess | undefined;
  let restarts = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  mkdirSync(path.dirname(options.logFile), { recursive: true, mode: 0o700 });

  function start(): void {
    timer = undefined;
    if (stopping) return;
    const fd = openSync(options.logFile, 'a', 0o600); // a workload's log is its owner's only
    const [file, ...args] = options.command as [string, ...string[]];
    const startedAt = Date.now();
    try {
      child = spawn(file, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env, [PARENT_PIPE_ENV]: 'stdin' },
        stdio: ['pipe', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const current = child;
    current.stdin?.on('error', () => {}); // never written to; EPIPE once the child is gone is expected
    if (current.pid !== undefined) recordProcess(options.runDir, options.name, current.pid);
    options.log.info({ workload: options.name, pid: current.pid }, 'process started');
    current.once('exit', (code, signal) => {
      if (child === current) child = undefined;
      forgetProcess(options.runDir, options.name, current.pid);
      if (stopping) return;
      if (Date.now() - startedAt > stableAfterMs) backoff.reset();
      const delay = backoff.next();
      restarts += 1;
      options.log.warn(
        { workload: options.name, code, signal, delay, logFile: options.logFile },
        'process exited: restarting',
      );
      timer = setTimeout(start, delay);
      options.onChange();
    });
    current.once('error', (error) =>
      options.log.error({ workload: options.name, err: error }, 'process failed to start'),
    );
    options.onChange();
  }

  // A child of an earlier run of this driver that is still there goes first (it holds the ports).
  const started = reclaimProcess(options.runDir, options.name).then(
    () => start(),
    (error: unknown) => (options.log.error({ workload: options.name, err: error }, 'reclaiming failed'), start()),
  );
  return {
    command: options.command,
    get pid() {
      return child?.pid;
    },
    get restarts() {
      return restarts;
    },
    get running() {
      return child !== undefined && child.exitCode === null;
    },
    async stop() {
      stopping = true;
      await started;
      if (timer) clearTimeout(timer);
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = once(current, 'exit');
      current.kill('SIGTERM');
      const kill = setTimeout(() => current.kill('SIGKILL'), options.stopGraceMs ?? 5_000);
      await exited;
      clearTimeout(kill);
    },
  };
}
