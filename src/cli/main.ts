#!/usr/bin/env node
// The `iotmq` command. Sub-commands are added as the parts land.

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, Command> = {
  dev: async (args) => {
    const { runDev } = await import('./dev-command.js');
    await runDev(args);
  },
};

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
