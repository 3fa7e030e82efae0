#!/usr/bin/env node
// The `iotmq` command. Sub-commands are added as the parts land.
console.error('usage: iotmq <dev|rp|agent|operator|broker> [options]');
process.exitCode = 2;
