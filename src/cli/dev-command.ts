import { parseArgs } from 'node:util';
import { devInstructions, startDev } from './dev.js';

/** `iotmq dev [--host H] [--port P] [--data-dir D]`: runs until SIGINT/SIGTERM, then stops cleanly. */
export async function runDev(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8443' },
      'data-dir': { type: 'string', default: './.iotmq' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be a port number, not '${values.port}'`);
  const dev = await startDev({ host: values.host, port, dataDir: values['data-dir'] });
  process.stdout.write(devInstructions(dev.config, dev.configFile));
  // Extension (issue 5): local cluster with agent + operator, default MQ resources, MQTT settings.
  // Started without blocking the signal handlers below: a stop during startup waits for it, then stops it.
  const { startDevExtension, mqttInstructions } = await import('./dev-extension.js');
  const extension = startDevExtension(dev, values['data-dir']).then(
    (started) => (process.stdout.write(mqttInstructions(started.mqtt)), started),
    (error: unknown) => (
      process.stderr.write(
        `local cluster failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      ),
      undefined
    ),
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stdout.write(`\n${signal}: stopping iotmq dev…\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await (await extension)?.local.stop();
  await dev.close();
  process.stdout.write('iotmq dev stopped.\n');
}
