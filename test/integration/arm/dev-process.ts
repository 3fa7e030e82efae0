// `startDev` (front door + RP, no agent) in a process of its own, so a test can kill -9 it the way a
// crash or the OOM killer would: `node --import tsx dev-process.ts <data-dir>`; prints `ready <url>`.
import { startDev } from '../../../src/cli/dev.js';

const dev = await startDev({ dataDir: process.argv[2]!, port: 0, retryAfterSeconds: 1 });
process.stdout.write(`ready ${dev.config.armEndpoint}\n`);
