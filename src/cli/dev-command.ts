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
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, not '${values.port}'`);
  const dev = await startDev({ host: values.host, port, dataDir: values['data-dir'] });
  process.stdout.write(devInstructions(dev.config, dev.configFile));
  // Extension (issue 5): local cluster with agent + operator, default MQ resources, MQTT settings.
  const { startDevExtension, mqttInstructions } = await import('./dev-extension.js');
  const extension = await startDevExtension(dev, values['data-dir']);
  process.stdout.write(mqttInstructions(extension.mqtt));

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
  await extension.local.stop();
  await dev.close();
  process.stdout.write('iotmq dev stopped.\n');
}
