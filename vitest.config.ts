import { defineConfig } from 'vitest/config';

// Tests talk to real peers on loopback (PostgreSQL, kube-apiserver, MQTT clients), so the
// timeouts are generous; peers are installed and started by test/peers/ on first use.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 900_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
