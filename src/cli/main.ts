#!/usr/bin/env node
// The `iotmq` command. Sub-commands are added as the parts land.

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, Command> = {
  rp: async (args) => (await import('./rp-command.js')).runRp(args),
  // Extension workloads (issue 5): the broker as the operator's drivers start it, agent, operator.
  broker: async (args) =>
    (await import('../../extension/broker/main.js')).runBroker(
      flag(args, '--config') ?? usage('iotmq broker --config FILE'),
    ),
  agent: async (args) => (await import('./agent-command.js')).runAgent(args),
  operator: async (args) => (await import('./operator-command.js')).runOperator(args),
  dev: async (args) => {
    const { runDev } = await import('./dev-command.js');
    await runDev(args);
  },
};

function flag(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function usage(text: string): never {
  throw new Error(`usage: ${text}`);
}

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const command = name ? commands[name] : undefined;
  if (!command) {
    console.error('usage: iotmq <dev|rp|agent|operator|broker> [options]');
    process.exitCode = 2;
    return;
  }
  await command(args);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
