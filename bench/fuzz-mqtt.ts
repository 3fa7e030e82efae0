// The MQTT packet fuzzer as a long run (issue 11: ≥ 30,000 seeded cases): the generator of
// test/support/mqtt-fuzz.ts against a broker in its own process (plain TCP, CONNECT timeout 1 s,
// 1 MiB packet limit). Prints the outcomes, the broker's heap and RSS after GC per round, whether
// the broker process survived, and whether a well-behaved client is still served afterwards.
// A silent case prints its bytes; the seed replays the run (IOTMQ_FUZZ_SEED=<seed> IOTMQ_FUZZ_CASES=<n>
// npx vitest run test/integration/broker/fuzz.test.ts replays its first n cases).
// FUZZ_CASES (default 30,000), FUZZ_SEED (default 20231004), FUZZ_CONCURRENCY (default 200).
import mqtt from 'mqtt';
import { runFuzz, startFuzzBroker } from '../test/support/mqtt-fuzz.js';

export async function runMqttFuzz(): Promise<void> {
  const cases = Number(process.env.FUZZ_CASES ?? 30_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20231004);
  const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 200);
  const rounds = Math.max(1, Math.ceil(cases / 2000));
  const broker = await startFuzzBroker({ limits: { connectTimeout: 1, maximumPacketSize: 1024 * 1024 } });
  const started = performance.now();
  try {
    const run = await runFuzz(broker, {
      seed,
      cases,
      rounds,
      concurrency,
      onRound: (round, h) => {
        console.log(
          `fuzz-mqtt: round ${round + 1}/${rounds}` +
            (h ? `, heap ${(h.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(h.rss / 2 ** 20).toFixed(0)} MiB` : ''),
        );
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const healthy = broker.exit ? false : await servesAClient(broker.url);
    const last = run.heaps.at(-1);
    console.log(
      `fuzz-mqtt: ${cases} cases (seed ${seed}) in ${seconds.toFixed(0)} s (${(cases / seconds).toFixed(0)}/s): ` +
        `answered ${run.outcomes.answered}, closed by the broker ${run.outcomes.closed}, silent ${run.outcomes.silent}; ` +
        `broker crashes ${broker.exit ? `1 (${JSON.stringify(broker.exit)})` : 0}; ` +
        (last
          ? `after GC: heap ${(run.heaps[0].heapUsed / 2 ** 20).toFixed(1)} → ${(last.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
            `rss ${(last.rss / 2 ** 20).toFixed(0)} MiB, connections left ${last.connections}; `
          : '') +
        `healthy client afterwards: ${healthy ? 'yes' : 'NO'}`,
    );
    for (const hex of run.silent.slice(0, 20)) console.log(`fuzz-mqtt: silent case ${hex}`);
    if (broker.exit || run.outcomes.silent > 0 || !healthy) process.exitCode = 1;
  } finally {
    await broker.close();
  }
}
/** A subscriber and a publisher exchange a QoS 1 message. */
async function servesAClient(url: string): Promise<boolean> {
  const options = { reconnectPeriod: 0, connectTimeout: 5000 };
  const sub = await mqtt.connectAsync(url, { ...options, protocolVersion: 5 });
  const pub = await mqtt.connectAsync(url, { ...options, protocolVersion: 4 });
  try {
    const got = new Promise<string>((resolve) => sub.on('message', (_t, payload) => resolve(payload.toString())));
    await sub.subscribeAsync('after/fuzz', { qos: 1 });
    await pub.publishAsync('after/fuzz', 'alive', { qos: 1 });
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
    return (await Promise.race([got, timeout])) === 'alive';
  } finally {
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  }
}
