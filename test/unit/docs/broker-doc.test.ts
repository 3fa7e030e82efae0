// docs/broker.md describes every field a user may set at the top of the broker's config file, and the
// default it gives each broker setting is the broker's: the page cannot fall behind the schema.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { brokerConfigSchema } from '../../../src/api/broker-config-schema.js';
import { packageRoot } from '../../../src/common/paths.js';
import { configuredLimits } from '../../../extension/broker/main.js';
import { validateConfig } from '../../../extension/broker/config.js';

const page = readFileSync(path.join(packageRoot, 'docs/broker.md'), 'utf8');

it('docs/broker.md names every top-level field of the config file', () => {
  const fields = Object.keys(brokerConfigSchema().properties as Record<string, unknown>);
  expect(fields.filter((field) => !page.includes(`| \`${field}\` |`))).toEqual([]);
});

it('docs/broker.md gives the broker settings the defaults the broker uses', () => {
  const limits = configuredLimits(
    validateConfig({
      broker: { name: 'broker', spec: {} },
      listeners: [{ name: 'l', spec: { brokerRef: 'broker', port: 1883 } }],
    }),
  );
  const documented = {
    maxKeepAlive: limits.maxKeepAlive,
    maxConnectPacketBytes: limits.maximumConnectPacketSize,
    maxSubscriberQueueBytes: limits.outboundBufferLimit,
    maxSessionQueueMessages: limits.maxQueuedMessages,
    slowSubscriberGraceMs: limits.slowSubscriberGraceMs,
  };
  for (const [field, value] of Object.entries(documented)) {
    // the settings table: | `field` | unit | default | …
    const row = page.split('\n').find((line) => line.startsWith(`| \`${field}\` |`));
    expect(row?.split('|')[3]?.trim().split(' ')[0], field).toBe(String(value));
  }
});
