// `iotmq <args>` as a child process, from source (tsx: CI has no dist), as an operator or a pod runs
// it: output collected, a line awaited, stopped by a signal with its exit code reported. Log output
// is on (VITEST unset, so the logger is not silenced) to catch what a user would see.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface CliProcess {
  child: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** The first match of `pattern` in the output, seen or still to come; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM by default) unless it has exited already, and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, IOTMQ_LOG_LEVEL: 'info', VITEST: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: string) => {
    text += chunk;
    for (const listener of [...listeners]) listener();
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${pattern}; output:\n${text}`)),
          timeoutMs,
        );
        const check = () => {
          const match = pattern.exec(text);
          if (match) finish(undefined, match);
        };
        const finish = (error?: Error, match?: RegExpExecArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (match) resolve(match);
          else reject(error);
        };
        listeners.add(check);
        check();
        void exited.then((code) => {
          // Output that arrived with the exit still counts.
          check();
          finish(new Error(`iotmq ${args[0]} exited (${code}) before printing ${pattern}; output:\n${text}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `iotmq <args>` to its end (killed after `timeoutMs`): exit code and output. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, output: cli.output() };
}
