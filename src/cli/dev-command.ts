// `iotmq dev` (options: src/cli/commands.ts): starts the dev cloud, then the local cluster and its
// MQTT broker, prints what a user needs once all is up, and runs until SIGINT/SIGTERM. A start that
// cannot bring MQTT up ends with a message saying what to do and exit code 1, leaving nothing running.
// Stopping always ends: a stop during startup aborts it, a second signal or a shutdown slower than
// SHUTDOWN_MS exits at once (children end with this process: they read its parent pipe).
import { once } from 'node:events';
import path from 'node:path';
import { restrictToOwner } from '../common/private-files.js';
import { parseCommandLine, UsageError } from './command-line.js';
import { DEV } from './commands.js';
import { DATA_DIR_ENTRIES, devInstructions, startDev } from './dev.js';
import { mqttInstructions, recordMqtt, startDevExtension, type DevExtension } from './dev-extension.js';

const SHUTDOWN_MS = 20_000;

function portFlag(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new UsageError(`iotmq dev: --${flag} must be a port number (0 for any free one), not '${value}'`);
  return port;
}

export async function runDev(args: string[]): Promise<void> {
  const values = parseCommandLine(DEV, args);
  const port = portFlag('port', values.port);
  const mqttPorts = {
    ...(values['mqtt-port'] !== undefined ? { plain: portFlag('mqtt-port', values['mqtt-port']) } : {}),
    ...(values['mqtts-port'] !== undefined ? { tls: portFlag('mqtts-port', values['mqtts-port']) } : {}),
  };
  const dataDir = path.resolve(values['data-dir']);
  // the files of a data dir made before everything was created private
  await restrictToOwner(dataDir, DATA_DIR_ENTRIES);
  const dev = await startDev({ host: values.host, port, dataDir }).catch((error: unknown) => {
    // only the ARM endpoint listens on a given port (the RP takes any free one)
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new Error(
      `iotmq dev: port ${port} (the ARM endpoint) is in use by another program, perhaps another iotmq dev. ` +
        'Stop it, or use --port PORT (0 picks a free one).',
      { cause: error },
    );
  });

  const stopping = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      process.stderr.write(`\n${signal} again: exiting now.\n`);
      process.exit(130);
    }
    process.stdout.write(`\n${signal}: stopping iotmq dev…\n`);
    stopping.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let running: DevExtension | undefined;
  let failure: unknown;
  try {
    running = await startDevExtension(dev, dataDir, {
      mqttPorts,
      signal: stopping.signal,
      progress: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(devInstructions(dev.config, dev.configFile) + mqttInstructions(running.mqtt, dev.configFile));
    if (!stopping.signal.aborted) await once(stopping.signal, 'abort');
  } catch (error) {
    if (!stopping.signal.aborted) failure = error;
  }

  const deadline = setTimeout(() => {
    process.stderr.write(`iotmq dev: stopping took longer than ${SHUTDOWN_MS / 1000} s; exiting now.\n`);
    process.exit(1);
  }, SHUTDOWN_MS);
  deadline.unref();
  if (running) {
    await running.local.stop();
    await recordMqtt(dev.configFile, { ...running.mqtt, state: 'stopped' });
  }
  await dev.close();
  clearTimeout(deadline);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Everything is closed. A request some part still retries against a server closed now (a token
  // fetch the agent or the RP had in flight: the SDK retries for ~5 s) must not hold the exit.
  setTimeout(() => process.exit(), 250).unref();
  if (failure) {
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new Error(
      message.startsWith('iotmq dev:')
        ? `${message}\niotmq dev stopped.`
        : `iotmq dev: MQTT is not running, so iotmq dev stopped: ${message}`,
      { cause: failure },
    );
  }
  process.stdout.write('iotmq dev stopped.\n');
}
