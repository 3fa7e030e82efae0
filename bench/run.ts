// `npm run bench -- <name>`: runs one benchmark (or all) and prints its figures as ratios to the
// peer it is measured beside. Benchmarks are never tests: no thresholds fail a build here.
import { pathToFileURL } from 'node:url';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  rp: async () => (await import('./rp.js')).runRpBenchmark(),
  reconcile: async () => (await import('./reconcile.js')).runReconcileBenchmark(),
  broker: async () => (await import('./broker.js')).runBrokerBenchmark(),
  'fuzz-templates': async () => (await import('./fuzz-templates.js')).runTemplateFuzz(),
  'fuzz-rp': async () => (await import('./fuzz-rp.js')).runRpFuzzBenchmark(),
  'fuzz-mqtt': async () => (await import('./fuzz-mqtt.js')).runMqttFuzz(),
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = names.length ? names : Object.keys(BENCHMARKS);
for (const name of selected) {
  const run = BENCHMARKS[name];
  if (!run) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exitCode = 2;
    break;
  }
  await run();
}
void pathToFileURL;
