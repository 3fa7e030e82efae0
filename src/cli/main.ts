#!/usr/bin/env node
// The `iotmq` command: `iotmq <command> [options]`, `iotmq --help`, `iotmq <command> --help`.
import { exitWithParent } from '../../extension/operator/drivers/parent-pipe.js';
import { commandHelp, overallHelp, UsageError, wantsHelp } from './command-line.js';
import { COMMANDS } from './commands.js';

type Run = (args: string[]) => Promise<void>;

// Loaded on use: `iotmq --help` and a broker process load no more than they need.
const runners: Record<string, Run> = {
  dev: async (args) => (await import('./dev-command.js')).runDev(args),
  rp: async (args) => (await import('./rp-command.js')).runRp(args),
  agent: async (args) => (await import('./agent-command.js')).runAgent(args),
  operator: async (args) => (await import('./operator-command.js')).runOperator(args),
  broker: async (args) => (await import('./broker-command.js')).runBrokerCommand(args),
};

async function main(): Promise<void> {
  // Everything iotmq writes (stores, keys, secrets, dev.json, broker data, logs) is for this user
  // only: files 0600, directories 0700 — SQLite's -wal/-shm files and child processes included.
  process.umask(0o077);
  // A workload started by the local driver ends when the driver's process does, however it ends.
  exitWithParent();
  const [name, ...args] = process.argv.slice(2);
  if (name === undefined) {
    process.stderr.write(overallHelp(COMMANDS));
    process.exitCode = 2;
    return;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const spec = name === 'help' && args[0] !== undefined ? COMMANDS[args[0]] : undefined;
    process.stdout.write(spec ? commandHelp(spec) : overallHelp(COMMANDS));
    return;
  }
  const spec = COMMANDS[name];
  const run = runners[name];
  if (!spec || !run) throw new UsageError(`iotmq: unknown command '${name}' (see iotmq --help)`);
  if (wantsHelp(args)) {
    process.stdout.write(commandHelp(spec));
    return;
  }
  await run(args);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
