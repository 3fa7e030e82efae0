// Byte-level protocol cases named by spec statement, run against a real broker over TCP with a
// plain socket and mqtt-packet (the mosquitto test/broker/data habit).
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { plainTcpTransport } from '../../../extension/broker/listeners/listener.js';
import { rawConnect, startTestBroker } from './helpers.js';

type Expect = { cmd: Packet['cmd']; [k: string]: unknown } | 'closed';

interface Case {
  name: string;
  version: 4 | 5;
  /** Packets or raw bytes, sent in order; `null` means: wait for the next expected reply first. */
  send: Array<Packet | Buffer>;
  expect: Expect[];
  limits?: Parameters<typeof startTestBroker>[0];
}

const connect = (version: 4 | 5, extra: Partial<mqttPacket.IConnectPacket> = {}): mqttPacket.IConnectPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: version,
  clientId: `c${Math.random().toString(36).slice(2, 8)}`,
  clean: true,
  keepalive: 60,
  ...extra,
});
const ok4 = { cmd: 'connack', returnCode: 0 } as const;
const ok5 = { cmd: 'connack', reasonCode: 0 } as const;

const cases: Case[] = [
  {
    name: '[MQTT-3.1.0-1] first packet must be CONNECT',
    version: 4,
    send: [{ cmd: 'pingreq' }],
    expect: ['closed'],
  },
  {
    name: '[MQTT-3.1.0-2] a second CONNECT is a protocol violation',
    version: 5,
    send: [connect(5), connect(5)],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x82 }, 'closed'],
  },
  {
    name: '[MQTT-3.1.2-2] unsupported protocol level gets return code 0x01',
    version: 4,
    send: [Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x07, 0x02, 0x00, 0x3c, 0x00, 0x00])],
    expect: [{ cmd: 'connack', returnCode: 1 }, 'closed'],
  },
  {
    name: '[MQTT-3.1.2-1] protocol name that does not match the level is refused',
    version: 4,
    send: [connect(4, { protocolId: 'MQIsdp' })],
    expect: [{ cmd: 'connack', returnCode: 1 }, 'closed'],
  },
  {
    name: '[MQTT-3.1.2-3] reserved CONNECT flag set closes the connection',
    version: 4,
    send: [Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x03, 0x00, 0x3c, 0x00, 0x01, 0x61])],
    expect: ['closed'],
  },
  {
    name: '[MQTT-3.1.3-8] 3.1.1 empty client id with CleanSession=0 gets 0x02',
    version: 4,
    // raw bytes: mqtt-packet's generator refuses to build this CONNECT
    send: [Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00])],
    expect: [{ cmd: 'connack', returnCode: 2 }, 'closed'],
  },
  {
    name: '[MQTT-3.1.3-6] 3.1.1 empty client id with CleanSession=1 is accepted',
    version: 4,
    send: [connect(4, { clientId: '' })],
    expect: [ok4],
  },
  {
    name: '[MQTT-3.2.2-16] v5 empty client id gets an Assigned Client Identifier',
    version: 5,
    send: [connect(5, { clientId: '' })],
    expect: [
      {
        cmd: 'connack',
        reasonCode: 0,
        properties: expect.objectContaining({ assignedClientIdentifier: expect.stringMatching(/^iotmq-/) }),
      },
    ],
  },
  {
    name: '[MQTT-3.1.2-12] v5 will topic with a wildcard is refused with 0x90',
    version: 5,
    send: [connect(5, { will: { topic: 'a/#', payload: Buffer.from('x'), qos: 0, retain: false } })],
    expect: [{ cmd: 'connack', reasonCode: 0x90 }, 'closed'],
  },
  {
    name: '[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP',
    version: 4,
    send: [connect(4), { cmd: 'pingreq' }],
    expect: [ok4, { cmd: 'pingresp' }],
  },
  {
    name: '[MQTT-3.3.2-2] v5 topic name with a wildcard → DISCONNECT 0x90',
    version: 5,
    send: [connect(5), { cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x90 }, 'closed'],
  },
  {
    name: '[MQTT-3.3.2-2] 3.1.1 topic name with a wildcard closes the connection',
    version: 4,
    send: [connect(4), { cmd: 'publish', topic: 'a/#', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }],
    expect: [ok4, 'closed'],
  },
  {
    name: '[MQTT-3.3.2-9] topic alias above our Topic Alias Maximum → DISCONNECT 0x94',
    version: 5,
    send: [
      connect(5),
      {
        cmd: 'publish',
        topic: 'a',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { topicAlias: 1000 },
      },
    ],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x94 }, 'closed'],
  },
  {
    name: '[MQTT-3.3.2-8] unknown topic alias with an empty topic is a protocol error',
    version: 5,
    send: [
      connect(5),
      {
        cmd: 'publish',
        topic: '',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { topicAlias: 3 },
      },
    ],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x82 }, 'closed'],
  },
  {
    name: '[MQTT-3.3.4-9] more QoS 2 PUBLISHes than Receive Maximum → DISCONNECT 0x93',
    version: 5,
    limits: { limits: { receiveMaximum: 2 } },
    send: [
      connect(5),
      ...[1, 2, 3].map((id): Packet => ({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        messageId: id,
      })),
    ],
    expect: [
      { cmd: 'connack', reasonCode: 0, properties: expect.objectContaining({ receiveMaximum: 2 }) },
      { cmd: 'pubrec', messageId: 1 },
      { cmd: 'pubrec', messageId: 2 },
      { cmd: 'disconnect', reasonCode: 0x93 },
      'closed',
    ],
  },
  {
    name: '[MQTT-3.2.2-15] packet larger than our Maximum Packet Size → DISCONNECT 0x95',
    version: 5,
    limits: { limits: { maximumPacketSize: 1024 } },
    send: [connect(5), { cmd: 'publish', topic: 't', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false }],
    expect: [
      { cmd: 'connack', reasonCode: 0, properties: expect.objectContaining({ maximumPacketSize: 1024 }) },
      { cmd: 'disconnect', reasonCode: 0x95 },
      'closed',
    ],
  },
  {
    name: '[MQTT-4.3.3-11] PUBREL for an unknown packet id gets PUBCOMP 0x92',
    version: 5,
    send: [connect(5), { cmd: 'pubrel', messageId: 77 }],
    expect: [ok5, { cmd: 'pubcomp', messageId: 77, reasonCode: 0x92 }],
  },
  {
    name: '[MQTT-4.3.3-10] QoS 2 duplicate before PUBREL is acknowledged again, PUBREL → PUBCOMP',
    version: 4,
    send: [
      connect(4),
      { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: 5 },
      { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, retain: false, dup: true, messageId: 5 },
      { cmd: 'pubrel', messageId: 5 },
    ],
    expect: [ok4, { cmd: 'pubrec', messageId: 5 }, { cmd: 'pubrec', messageId: 5 }, { cmd: 'pubcomp', messageId: 5 }],
  },
  {
    name: '[MQTT-4.7.1-1] misplaced # in a filter gets SUBACK 0x8F (v5)',
    version: 5,
    send: [
      connect(5),
      {
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: 'a/#/b', qos: 1 },
          { topic: 'ok/+', qos: 1 },
        ],
      },
    ],
    expect: [ok5, { cmd: 'suback', messageId: 1, granted: [0x8f, 1] }],
  },
  {
    name: '[MQTT-4.7.1-2] misplaced + in a filter gets SUBACK 0x80 (3.1.1)',
    version: 4,
    send: [connect(4), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a+/b', qos: 0 }] }],
    expect: [ok4, { cmd: 'suback', messageId: 1, granted: [0x80] }],
  },
  {
    name: '[MQTT-3.8.3-4] no-local on a shared subscription is a protocol error',
    version: 5,
    send: [connect(5), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/a', qos: 0, nl: true }] }],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x82 }, 'closed'],
  },
  {
    name: '[MQTT-3.10.4-5] UNSUBSCRIBE of an unknown filter gets UNSUBACK 0x11 (v5)',
    version: 5,
    send: [connect(5), { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['nope'] }],
    expect: [ok5, { cmd: 'unsuback', messageId: 3, granted: [0x11] }],
  },
  {
    name: '[MQTT-3.14.2-2] DISCONNECT may not turn a zero session expiry non-zero',
    version: 5,
    send: [connect(5), { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } }],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x82 }, 'closed'],
  },
  {
    name: '[MQTT-4.12.0-1] unsupported authentication method gets CONNACK 0x8C',
    version: 5,
    send: [connect(5, { properties: { authenticationMethod: 'SCRAM-SHA-1' } })],
    expect: [{ cmd: 'connack', reasonCode: 0x8c }, 'closed'],
  },
  {
    name: '[MQTT-3.3.4-6] subscription identifier from a client in PUBLISH is a protocol error',
    version: 5,
    send: [
      connect(5),
      {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { subscriptionIdentifier: 3 },
      },
    ],
    expect: [ok5, { cmd: 'disconnect', reasonCode: 0x82 }, 'closed'],
  },
  {
    name: '[MQTT-1.5.4-1] ill-formed UTF-8 in a topic name closes the connection',
    version: 4,
    send: [connect(4), Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x78])],
    expect: [ok4, 'closed'],
  },
  {
    name: '[MQTT-1.5.4-2] U+0000 in a topic name closes the connection',
    version: 4,
    send: [connect(4), Buffer.from([0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78])],
    expect: [ok4, 'closed'],
  },
  {
    name: '[MQTT-2.2.2-2] invalid fixed-header flags close the connection',
    version: 4,
    send: [connect(4), Buffer.from([0x82 | 0x01, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00])],
    expect: [ok4, 'closed'],
  },
  {
    name: '[MQTT-3.3.1-4] PUBLISH with QoS 3 closes the connection',
    version: 4,
    send: [connect(4), Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])],
    expect: [ok4, 'closed'],
  },
  // Packet identifiers: every SUBSCRIBE, UNSUBSCRIBE and QoS 1/2 PUBLISH carries a non-zero one
  // [MQTT-2.2.1-3]; zero is a Protocol Error (v5 DISCONNECT 0x82, 3.1.1 closes). Raw bytes:
  // mqtt-packet's generator would not build them.
  ...([4, 5] as const).flatMap((version): Case[] => {
    const v5 = version === 5;
    const props = v5 ? [0x00] : []; // an empty property block in v5
    const refused: Expect[] = v5 ? [{ cmd: 'disconnect', reasonCode: 0x82 }, 'closed'] : ['closed'];
    const ok = v5 ? ok5 : ok4;
    const frame = (first: number, body: number[]): Buffer => Buffer.from([first, body.length, ...body]);
    return [
      {
        name: `[MQTT-2.2.1-3] ${version}: QoS 1 PUBLISH with packet id 0 is a protocol error`,
        version,
        send: [connect(version), frame(0x32, [0x00, 0x01, 0x74, 0x00, 0x00, ...props, 0x78])],
        expect: [ok, ...refused],
      },
      {
        name: `[MQTT-2.2.1-3] ${version}: QoS 2 PUBLISH with packet id 0 is a protocol error`,
        version,
        send: [connect(version), frame(0x34, [0x00, 0x01, 0x74, 0x00, 0x00, ...props, 0x78])],
        expect: [ok, ...refused],
      },
      {
        name: `[MQTT-2.2.1-3] ${version}: SUBSCRIBE with packet id 0 is a protocol error`,
        version,
        send: [connect(version), frame(0x82, [0x00, 0x00, ...props, 0x00, 0x01, 0x74, 0x00])],
        expect: [ok, ...refused],
      },
      {
        name: `[MQTT-2.2.1-3] ${version}: UNSUBSCRIBE with packet id 0 is a protocol error`,
        version,
        send: [connect(version), frame(0xa2, [0x00, 0x00, ...props, 0x00, 0x01, 0x74])],
        expect: [ok, ...refused],
      },
      {
        // DUP is a fixed-header flag; a wrong flag makes the packet malformed [MQTT-2.1.3-1]
        name: `[MQTT-3.3.1-2] ${version}: QoS 0 PUBLISH with DUP set is malformed`,
        version,
        send: [connect(version), frame(0x38, [0x00, 0x01, 0x74, ...props, 0x78])],
        expect: [
          ok,
          ...(v5 ? [{ cmd: 'disconnect', reasonCode: 0x81 } as const, 'closed' as const] : ['closed' as const]),
        ],
      },
      {
        name: `[MQTT-3.3.1-2] ${version}: QoS 1 PUBLISH with DUP set is a legal re-send`,
        version,
        send: [connect(version), frame(0x3a, [0x00, 0x01, 0x74, 0x00, 0x07, ...props, 0x78])],
        expect: [ok, { cmd: 'puback', messageId: 7 }],
      },
      // $SYS/ is the broker's own namespace (observability/sys-topics.ts): a client may read it
      // but never publish or retain there. v5 says so in the ack (0x87, as an authorization
      // refusal); 3.1.1 has no code, so the ack is normal and the message is dropped; QoS 0 is
      // dropped. The retained-message check: a subscriber to $SYS/# gets SUBACK and then, with
      // nothing retained in between, the PINGRESP.
      {
        name: `[MQTT-4.7.2] ${version}: a client cannot publish or retain under $SYS`,
        version,
        send: [
          connect(version),
          {
            cmd: 'publish',
            topic: '$SYS/broker/uptime',
            payload: Buffer.from('fake'),
            qos: 1,
            retain: true,
            dup: false,
            messageId: 1,
          },
          { cmd: 'publish', topic: '$SYS', payload: Buffer.from('fake'), qos: 0, retain: true, dup: false },
          {
            cmd: 'publish',
            topic: '$SYS/x',
            payload: Buffer.from('fake'),
            qos: 2,
            retain: true,
            dup: false,
            messageId: 2,
          },
          { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: '$SYS/#', qos: 1 }] },
          { cmd: 'pingreq' },
        ],
        expect: [
          ok,
          { cmd: 'puback', messageId: 1, ...(v5 ? { reasonCode: 0x87 } : {}) },
          { cmd: 'pubrec', messageId: 2, ...(v5 ? { reasonCode: 0x87 } : {}) },
          { cmd: 'suback', messageId: 3, granted: [1] },
          { cmd: 'pingresp' },
        ],
      },
      {
        name: `[MQTT-4.7.2] ${version}: a will under $SYS is refused at CONNECT`,
        version,
        send: [
          connect(version, {
            will: { topic: '$SYS/broker/clients/connected', payload: Buffer.from('0'), qos: 0, retain: true },
          }),
        ],
        expect: [v5 ? { cmd: 'connack', reasonCode: 0x87 } : { cmd: 'connack', returnCode: 5 }, 'closed'],
      },
    ];
  }),
  {
    name: "[MQTT-4.7.2] other $-topics are not the broker's: a client may publish there",
    version: 5,
    send: [
      connect(5),
      { cmd: 'publish', topic: '$app/x', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 1 },
    ],
    expect: [ok5, { cmd: 'puback', messageId: 1, reasonCode: 0x10 }],
  },
];

// Plain TCP listeners run on libuv handles; where those are missing they fall back to net.Server.
// The byte-level cases run over both, so the fallback stays as right as the default.
it('this Node offers the libuv handles: the libuv cases do not fall back to net unseen', () => {
  expect(plainTcpTransport()).toBe('libuv');
});

describe.each(['libuv', 'net'] as const)('MQTT protocol, byte level, over %s', (transport) => {
  it.each(cases)('$name', async (c) => {
    const { port } = await startTestBroker(c.limits, undefined, transport);
    const client = await rawConnect(port, c.version);
    for (const p of c.send) client.send(p);
    for (const e of c.expect) {
      const got = await client.next();
      if (e === 'closed') {
        if (got !== 'closed') throw new Error(`expected close, got ${JSON.stringify(got)}`);
      } else expect(got).toMatchObject(e);
    }
  });

  it('[MQTT-3.1.2-24] the connection is closed after 1.5 × keep alive without packets', async () => {
    const { port } = await startTestBroker({}, undefined, transport);
    const client = await rawConnect(port, 5);
    const started = Date.now();
    client.send(connect(5, { keepalive: 1 }));
    expect(await client.next()).toMatchObject(ok5);
    expect(await client.next(5000)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8d });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('[MQTT-3.2.2-21] Server Keep Alive replaces a longer client keep alive', async () => {
    const { port } = await startTestBroker({ limits: { maxKeepAlive: 30 } }, undefined, transport);
    const client = await rawConnect(port, 5);
    client.send(connect(5, { keepalive: 600 }));
    expect(await client.next()).toMatchObject({
      cmd: 'connack',
      properties: expect.objectContaining({ serverKeepAlive: 30 }),
    });
  });
});
