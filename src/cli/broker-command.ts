// `iotmq broker --config FILE`: the MQTT broker as the operator's drivers start it.
import { parseCommandLine, UsageError } from './command-line.js';
import { BROKER } from './commands.js';

export async function runBrokerCommand(args: string[]): Promise<void> {
  const { config } = parseCommandLine(BROKER, args);
  if (!config) throw new UsageError('iotmq broker: --config FILE is required (see iotmq broker --help)');
  const { runBroker } = await import('../../extension/broker/main.js');
  await runBroker(config);
}
