// A peer program (paho script, mosquitto_sub, …) run as a child process: its stdout lines are
// awaitable, and it is killed after the test if it is still running, so no peer outlives a test.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { onCleanup } from './helpers.js';

export interface Peer {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr(): string;
  /** The first line (seen or still to come) that satisfies `match`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves to the exit code once the process has ended. */
  exited: Promise<number | null>;
}

export function startPeer(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Peer {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) w(line);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitForLine(match, timeoutMs = 15_000) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (line: string): void => {
          if (!match(line)) return;
          done();
          resolve(line);
        };
        const onExit = (): void => {
          done();
          reject(new Error(`${command} exited before the expected line; stdout: ${lines.join('\n')}; stderr: ${err}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`timed out waiting for a line from ${command}; stdout: ${lines.join('\n')}; stderr: ${err}`),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          child.off('exit', onExit);
        };
        waiters.add(waiter);
        child.once('exit', onExit);
      });
    },
  };
}
