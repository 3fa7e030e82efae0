// One verdict on a custom resource, whichever cluster plays the API server: the same good and bad
// objects go to the real kube-apiserver (test/peers/kube) and to the embedded cluster of `iotmq dev`
// (extension/cluster/local-cluster.ts), and both must accept the same ones — storing the same spec,
// defaults included — and refuse the same ones with 422 Invalid naming the same fields. The chart's
// CRDs cover enums, types, required fields and ranges; a probe CRD adds what they do not use yet
// (pattern, lengths, nullable, int-or-string, preserved unknown fields, formats). The real server is
// asked twice: by create (POST, kubectl create: every cause) and by server-side apply (the agent's
// and the operator's write, which reports a wrongly typed field before any other).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalCluster,
  isClusterError,
  type ClusterClient,
  type KubeObject,
  type LocalCluster,
} from '../../../extension/cluster/index.js';
import type { KubernetesCluster } from '../../../extension/cluster/kubernetes.js';
import { kubeRequest, useKube, type KubeFixture } from '../../peers/kube/fixture.js';
import { exampleCustomResources } from '../operator/example-crs.js';
import { eventually } from '../../support/eventually.js';
import { chartCrds, createNamespace, installCrds, kubeClient } from './kube-setup.js';

const NS = 'parity';
const MQ = 'mq.iotoperations.azure.com/v1beta1';
const PROBE = 'parity.iotmq.test/v1';

/** A namespaced CRD of the test's own group, served as v1 with a status subresource. */
function testCrd(kind: string, openAPIV3Schema: Record<string, unknown>): KubeObject {
  const plural = `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.parity.iotmq.test` },
    spec: {
      group: 'parity.iotmq.test',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        { name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema } },
      ],
    },
  };
}

/** Keywords the chart's CRDs do not use (yet), on a kind of its own. */
const PROBE_CRD = testCrd('Probe', {
  type: 'object',
  required: ['spec'],
  properties: {
    spec: {
      type: 'object',
      required: ['mode'],
      properties: {
        mode: { type: 'string', enum: ['a', 'b'] },
        count: { type: 'integer', format: 'int32', minimum: 1, maximum: 10 },
        big: { type: 'integer', format: 'int32' },
        name: { type: 'string', pattern: '^[a-z]+$', minLength: 2, maxLength: 5 },
        note: { type: 'string', nullable: true },
        defaulted: { type: 'string', default: 'x' },
        port: { 'x-kubernetes-int-or-string': true },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        entries: {
          type: 'array',
          maxItems: 2,
          items: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string' }, value: { type: 'integer' } },
          },
        },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        ratio: { type: 'number', minimum: 0, maximum: 1, exclusiveMaximum: true },
        when: { type: 'string', format: 'date-time' },
        day: { type: 'string', format: 'date' },
        id: { type: 'string', format: 'uuid' },
        blob: { type: 'string', format: 'byte' },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string', enum: ['Up', 'Down'] } } },
  },
});

const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'test' };
const listener = (spec: Record<string, unknown>) => ({ kind: 'BrokerListener', apiVersion: MQ, spec });
const broker = (spec: Record<string, unknown>) => ({
  kind: 'Broker',
  apiVersion: MQ,
  spec: { mode: 'auto', authImage: image, brokerImage: image, healthManagerImage: image, ...spec },
});
const probe = (spec: Record<string, unknown>) => ({ kind: 'Probe', apiVersion: PROBE, spec });

interface Case {
  name: string;
  object: { kind: string; apiVersion: string; spec?: Record<string, unknown> };
  /** The fields a 422 names; none: accepted. */
  refused?: string[];
  /** metadata.name (default: one per case and cluster). */
  objectName?: string;
}

const BAD_AND_GOOD: Case[] = [
  // Closed enums, as the RP closes the API's extensible ones.
  {
    name: 'listener serviceType gigantic',
    object: listener({ brokerRef: 'b', port: 1883, serviceType: 'gigantic' }),
    refused: ['spec.serviceType'],
  },
  {
    name: 'broker memoryProfile gigantic',
    object: broker({ memoryProfile: 'gigantic' }),
    refused: ['spec.memoryProfile'],
  },
  {
    name: 'enum inside a list',
    object: {
      kind: 'BrokerAuthorization',
      apiVersion: MQ,
      spec: {
        listenerRef: ['l'],
        authorizationPolicies: { rules: [{ principals: {}, brokerResources: [{ method: 'Teleport' }] }] },
      },
    },
    refused: ['spec.authorizationPolicies.rules[0].brokerResources[0].method'],
  },
  // Wrong types.
  { name: 'port as a string', object: listener({ brokerRef: 'b', port: 'mqtt' }), refused: ['spec.port'] },
  {
    name: 'boolean as a string',
    object: listener({ brokerRef: 'b', port: 1883, authenticationEnabled: 'yes' }),
    refused: ['spec.authenticationEnabled'],
  },
  {
    name: 'nested integer as a string',
    object: broker({
      cardinality: {
        frontend: { replicas: 'two', workers: 1 },
        backendChain: { partitions: 1, redundancyFactor: 1, workers: 1 },
      },
    }),
    refused: ['spec.cardinality.frontend.replicas'],
  },
  { name: 'float for an int32', object: probe({ mode: 'a', count: 1.5 }), refused: ['spec.count'] },
  { name: 'int-or-string given a boolean', object: probe({ mode: 'a', port: true }), refused: ['spec.port'] },
  { name: 'preserved object given a string', object: probe({ mode: 'a', extra: 'text' }), refused: ['spec.extra'] },
  { name: 'map value of the wrong type', object: probe({ mode: 'a', labels: { a: 1 } }), refused: ['spec.labels.a'] },
  {
    name: 'null where null is not allowed',
    object: listener({ brokerRef: null, port: 1883 }),
    refused: ['spec.brokerRef'],
  },
  { name: 'null list item', object: probe({ mode: 'a', entries: [null] }), refused: ['spec.entries[0]'] },
  { name: 'date-time that is not one', object: probe({ mode: 'a', when: 'yesterday' }), refused: ['spec.when'] },
  {
    name: 'date-time without a zone',
    object: probe({ mode: 'a', when: '2024-01-01T00:00:00' }),
    refused: ['spec.when'],
  },
  { name: 'date that is not one', object: probe({ mode: 'a', day: '2024-13-01' }), refused: ['spec.day'] },
  { name: 'uuid that is not one', object: probe({ mode: 'a', id: 'not-a-uuid' }), refused: ['spec.id'] },
  { name: 'bytes that are not base64', object: probe({ mode: 'a', blob: 'not base64!' }), refused: ['spec.blob'] },
  // Required fields.
  { name: 'listener without brokerRef', object: listener({ port: 1883 }), refused: ['spec.brokerRef'] },
  {
    name: 'broker without its images',
    object: { kind: 'Broker', apiVersion: MQ, spec: { mode: 'auto' } },
    refused: ['spec.authImage', 'spec.brokerImage', 'spec.healthManagerImage'],
  },
  { name: 'no spec at all', object: { kind: 'BrokerListener', apiVersion: MQ }, refused: ['spec'] },
  {
    name: 'list item without its required key',
    object: probe({ mode: 'a', entries: [{ value: 1 }] }),
    refused: ['spec.entries[0].key'],
  },
  // Patterns and lengths.
  { name: 'pattern violation', object: probe({ mode: 'a', name: 'AB' }), refused: ['spec.name'] },
  { name: 'too short', object: probe({ mode: 'a', name: 'a' }), refused: ['spec.name'] },
  { name: 'too long', object: probe({ mode: 'a', name: 'abcdef' }), refused: ['spec.name'] },
  {
    name: 'too many items',
    object: probe({ mode: 'a', entries: [{ key: 'a' }, { key: 'b' }, { key: 'c' }] }),
    refused: ['spec.entries'],
  },
  // Ranges.
  { name: 'port above 65535', object: listener({ brokerRef: 'b', port: 70000 }), refused: ['spec.port'] },
  {
    name: 'nodePort below 0',
    object: listener({ brokerRef: 'b', port: 1883, nodePort: -1 }),
    refused: ['spec.nodePort'],
  },
  { name: 'integer below its minimum', object: probe({ mode: 'a', count: 0 }), refused: ['spec.count'] },
  { name: 'exclusive maximum reached', object: probe({ mode: 'a', ratio: 1 }), refused: ['spec.ratio'] },
  { name: 'int32 overflow', object: probe({ mode: 'a', big: 3_000_000_000 }), refused: ['spec.big'] },
  {
    name: 'several fields at once',
    object: probe({ mode: 'c', count: 20, name: 'X' }),
    refused: ['spec.count', 'spec.mode', 'spec.name'],
  },
  // Names: an ARM name may hold capitals, a Kubernetes object's may not.
  {
    name: 'a name with capitals',
    object: listener({ brokerRef: 'b', port: 1883 }),
    objectName: 'Listener-1',
    refused: ['metadata.name'],
  },
  {
    name: 'a name longer than 253 characters',
    object: listener({ brokerRef: 'b', port: 1883 }),
    objectName: 'l'.repeat(254),
    refused: ['metadata.name'],
  },
  // Accepted, with what the server makes of them.
  { name: 'null where a default applies', object: listener({ brokerRef: 'b', port: 1883, serviceType: null }) },
  { name: 'date-time with fraction', object: probe({ mode: 'a', when: '2024-01-01T00:00:00.123456Z' }) },
  {
    name: 'date-time with a space for the T',
    object: probe({ mode: 'a', when: '2024-01-01 00:00:00Z' }),
    refused: ['spec.when'],
  },
  { name: 'date-time with a lower-case t and z', object: probe({ mode: 'a', when: '2024-01-01t00:00:00z' }) },
  { name: 'date-time with an offset', object: probe({ mode: 'a', when: '2024-01-01T00:00:00+01:00' }) },
  {
    name: 'date-time with an offset without a colon',
    object: probe({ mode: 'a', when: '2024-01-01T00:00:00+0100' }),
    refused: ['spec.when'],
  },
  {
    name: 'date, uuid and bytes',
    object: probe({ mode: 'a', day: '2024-02-29', id: '0b4c6c1e-2f0b-4d59-9d1c-3c1f5c2a9e11', blob: 'aGVsbG8=' }),
  },
  { name: 'nullable null kept', object: probe({ mode: 'a', note: null }) },
  { name: 'int-or-string as integer', object: probe({ mode: 'b', port: 8080 }) },
  { name: 'int-or-string as string', object: probe({ mode: 'b', port: 'http' }) },
  { name: 'preserved unknown fields', object: probe({ mode: 'a', extra: { any: [1, { deep: true }], more: 'x' } }) },
  {
    name: 'every probe field valid',
    object: probe({
      mode: 'a',
      count: 10,
      big: 2 ** 31 - 1,
      name: 'abcde',
      port: 1,
      entries: [{ key: 'k', value: 3 }],
      labels: { a: 'b' },
      ratio: 0,
      when: '2024-01-01T00:00:00Z',
    }),
  },
  {
    name: 'listener at the edges of its ranges',
    object: listener({ brokerRef: 'b', port: 65535, nodePort: 0, serviceType: 'nodePort' }),
  },
];

type Verdict =
  | { accepted: true; spec: unknown }
  | { accepted: false; status: number; fields: string[]; messages: string[]; text: string };

/**
 * The field of a cause. kube-apiserver names an int32/int64 overflow `<nil>` and puts the field in
 * the message (`… with format int32 in spec.big`); that one quirk is read from the message.
 */
function fieldOf(cause: { field: string; message: string }): string {
  if (cause.field !== '<nil>') return cause.field;
  return /\bin (\S+)$/.exec(cause.message)?.[1] ?? cause.field;
}

const withoutText = (verdict: object) => ({ ...verdict, text: undefined, messages: undefined });

/** Each cause as `field: message`, as the API server joins them in its message. */
const messagesOf = (causes: readonly { field: string; message: string }[]) =>
  causes.map((cause) => `${fieldOf(cause)}: ${cause.message}`).sort();

const fieldsOf = (causes: readonly { field: string; message: string }[]) => [...new Set(causes.map(fieldOf))].sort();

async function applied(client: ClusterClient, object: KubeObject): Promise<Verdict> {
  try {
    const stored = await client.apply(object, { fieldManager: 'parity', force: true });
    return { accepted: true, spec: stored.spec };
  } catch (error) {
    if (!isClusterError(error, 'Invalid')) throw error;
    return {
      accepted: false,
      status: error.status,
      fields: fieldsOf(error.causes),
      messages: messagesOf(error.causes),
      text: error.message,
    };
  }
}

async function created(kube: KubeFixture, object: KubeObject): Promise<Verdict> {
  const [group, version] = object.apiVersion.split('/');
  const plural = `${object.kind.toLowerCase()}s`;
  const r = await kubeRequest(kube, 'POST', `/apis/${group}/${version}/namespaces/${NS}/${plural}`, object);
  if (r.status === 201) return { accepted: true, spec: r.body.spec };
  expect(r.body, r.text).toMatchObject({ kind: 'Status', reason: 'Invalid' });
  const causes = r.body.details?.causes ?? [];
  return { accepted: false, status: r.status, fields: fieldsOf(causes), messages: messagesOf(causes), text: r.text };
}

const named = (c: Case, name: string): KubeObject => ({ ...c.object, metadata: { name, namespace: NS } }) as KubeObject;

describe('CRD validation: the local cluster refuses and accepts exactly what kube-apiserver does', () => {
  const kube = useKube();
  let real: KubernetesCluster;
  let local: LocalCluster;
  beforeAll(async () => {
    real = kubeClient(kube());
    await installCrds(real);
    await real.apply(PROBE_CRD, { fieldManager: 'iotmq-test', force: true });
    await establishedAndServed(kube(), PROBE_CRD);
    await createNamespace(real, NS);
    local = createLocalCluster({ customResourceDefinitions: [...(await chartCrds()), PROBE_CRD] });
  });
  afterAll(() => local?.close());

  it.each(BAD_AND_GOOD.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const byCreate = await created(kube(), named(c, c.objectName ?? `c${i}`));
    const byApply = await applied(real, named(c, c.objectName ?? `a${i}`));
    const locally = await applied(local, named(c, c.objectName ?? `a${i}`));
    // The table says what Kubernetes does; the real server confirms it, the local cluster must agree.
    if (c.refused) {
      expect(byCreate, 'kube-apiserver (create)').toMatchObject({
        accepted: false,
        status: 422,
        fields: [...c.refused].sort(),
      });
      expect(locally, 'local cluster').toMatchObject({ accepted: false, status: 422, fields: [...c.refused].sort() });
      // Apply reports a wrongly typed field alone, before validating: one of the same fields.
      expect(byApply.accepted, `kube-apiserver (apply) ${JSON.stringify(byApply)}`).toBe(false);
      if (!byApply.accepted) {
        expect(byApply.fields.length, byApply.text).toBeGreaterThan(0); // the client reads the field from either answer
        expect(c.refused).toEqual(expect.arrayContaining(byApply.fields));
      }
      // And in the same words: those of apply's validation, or of create's where apply stopped at typing.
      if (!byApply.accepted && !locally.accepted && !byCreate.accepted) {
        const reference = /typed patch/.test(byApply.text) ? byCreate : byApply;
        expect(locally.messages).toEqual(reference.messages);
        // One cause: the whole Status message too (with several, the API server's order is its own),
        // except where it names the field `<nil>` and the local cluster names it.
        if (reference === byApply && locally.messages.length === 1 && !byApply.text.includes('<nil>'))
          expect(byApply.text).toContain(locally.text);
      }
    } else {
      expect(byCreate, 'kube-apiserver (create)').toMatchObject({ accepted: true });
      expect(byApply, 'kube-apiserver (apply)').toMatchObject({ accepted: true });
      expect(locally, 'local cluster').toEqual(byApply); // the same stored spec, defaults included
    }
  });

  it('a field the schema does not declare: apply refuses it on both, naming it (create would prune it)', async () => {
    const object = named({ name: 'unknown', object: listener({ brokerRef: 'b', port: 1883, bogus: 1 }) }, 'unknown');
    const onKube = await applied(real, object);
    expect(onKube).toMatchObject({ accepted: false, status: 422, fields: ['spec.bogus'] });
    expect(withoutText(await applied(local, object))).toEqual(withoutText(onKube));
  });

  it('every spec example, as the agent converts it, is accepted by both with the same stored spec', async () => {
    const examples = exampleCustomResources(NS);
    expect(new Set(examples.map((e) => e.cr.kind)).size).toBe(11); // every kind has an example
    for (const [i, { source, cr }] of examples.entries()) {
      const object = { ...cr, metadata: { ...cr.metadata, name: `example-${i}`, finalizers: [] } };
      const onKube = await applied(real, object);
      expect(onKube, `kube-apiserver: ${source}`).toMatchObject({ accepted: true });
      expect(await applied(local, object), `local cluster: ${source}`).toEqual(onKube);
    }
  });

  it('the status subresource is checked against the status schema only, by both', async () => {
    for (const client of [real, local]) {
      await client.apply(named({ name: 's', object: probe({ mode: 'a' }) }, 'status'), { fieldManager: 'parity' });
      const bad = await client
        .patchStatus(probeType, NS, 'status', { phase: 'Sideways' }, { fieldManager: 'op' })
        .catch((e: unknown) => e);
      expect(isClusterError(bad, 'Invalid') && fieldsOf(bad.causes)).toEqual(['status.phase']);
      const good = await client.patchStatus(probeType, NS, 'status', { phase: 'Up' }, { fieldManager: 'op' });
      expect(good.status).toEqual({ phase: 'Up' });
      expect(good.spec).toEqual({ mode: 'a', defaulted: 'x' });
    }
  });

  it('a listener`s conditions through the status subresource: the same verdicts and causes on both', async () => {
    const condition = (status: string, extra: Record<string, unknown> = {}) => ({
      type: 'Ready',
      status,
      reason: 'Reconciled',
      message: 'listening',
      lastTransitionTime: '2024-01-01T00:00:00Z',
      ...extra,
    });
    const writes: [string, Record<string, unknown>][] = [
      ['a status outside its enum', { conditions: [condition('Maybe')] }],
      [
        'a condition without lastTransitionTime',
        { conditions: [condition('True', { lastTransitionTime: undefined })] },
      ],
      ['two conditions of one type', { conditions: [condition('True'), condition('False')] }],
      ['a valid condition', { observedGeneration: 1, conditions: [condition('True', { observedGeneration: 1 })] }],
    ];
    const verdicts = async (client: ClusterClient) => {
      await client.apply(named({ name: 'l', object: listener({ brokerRef: 'b', port: 1883 }) }, 'conditions'), {
        fieldManager: 'parity',
      });
      const results = [];
      for (const [what, status] of writes) {
        const result = await client
          .patchStatus(LISTENER_TYPE, NS, 'conditions', JSON.parse(JSON.stringify(status)), { fieldManager: 'op' })
          .then(
            (cr) => ({ accepted: true, status: cr.status }),
            (error: unknown) =>
              isClusterError(error)
                ? {
                    accepted: false,
                    code: error.status,
                    fields: fieldsOf(error.causes),
                    messages: messagesOf(error.causes),
                  }
                : { error: String(error) },
          );
        results.push({ what, ...result });
      }
      return results;
    };
    const onKube = await verdicts(real);
    expect(onKube.map((v) => v.accepted)).toEqual([false, false, false, true]);
    expect(await verdicts(local)).toEqual(onKube);
  });

  it('an object stored before its CRD tightened: unchanged values ratchet, status writes pass, new values are judged — on both', async () => {
    const stored = { mode: 'b', name: 'ab' }; // valid under the loose schema only
    const steps = async (client: ClusterClient) => [
      await applied(client, drift('old', stored)), // the same again
      await applied(client, drift('old', { ...stored, count: 2 })), // another field changes
      await client.patchStatus(DRIFT, NS, 'old', { phase: 'Up' }, { fieldManager: 'op' }).then(
        (cr) => ({ accepted: true, spec: cr.spec }),
        (error: unknown) => ({ accepted: false, error: String(error) }),
      ),
      await applied(client, drift('old', { ...stored, count: 2, name: 'abc' })), // the invalid field changes
      await applied(client, drift('new', stored)), // a new object
    ];
    const expected = [
      { accepted: true },
      { accepted: true },
      { accepted: true },
      { accepted: false, fields: ['spec.name'] },
      { accepted: false, fields: ['spec.mode', 'spec.name'] },
    ];

    await real.apply(driftCrd('loose'), { fieldManager: 'iotmq-test', force: true });
    await establishedAndServed(kube(), driftCrd('loose'));
    await real.apply(drift('old', stored), { fieldManager: 'parity' });
    await real.apply(driftCrd('tight'), { fieldManager: 'iotmq-test', force: true });
    await eventually(
      'the tightened schema in force',
      async () => {
        const dryRun = await kubeRequest(
          kube(),
          'POST',
          `/apis/${DRIFT.apiVersion}/namespaces/${NS}/drifts?dryRun=All`,
          drift('probe', stored),
        );
        return dryRun.status === 422;
      },
      30_000,
      100,
    );
    const onKube = await steps(real);

    // The local cluster keeps its objects in its data dir across a restart with newer CRDs.
    const dir = await mkdtemp(path.join(tmpdir(), 'iotmq-parity-'));
    try {
      const before = createLocalCluster({ dataDir: dir, customResourceDefinitions: [driftCrd('loose')] });
      await before.apply(drift('old', stored), { fieldManager: 'parity' });
      before.close();
      const after = createLocalCluster({ dataDir: dir, customResourceDefinitions: [driftCrd('tight')] });
      try {
        const locally = await steps(after);
        expect(onKube).toMatchObject(expected);
        // The same verdicts (the messages differ only in the client's prefix of the request).
        expect(locally.map(withoutText)).toEqual(onKube.map(withoutText));
      } finally {
        after.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const probeType = { apiVersion: PROBE, kind: 'Probe', plural: 'probes' };
const LISTENER_TYPE = { apiVersion: MQ, kind: 'BrokerListener', plural: 'brokerlisteners' };

/** A kind whose schema a test tightens: `mode` loses `b`, `name` shrinks to one character. */
const DRIFT = { apiVersion: PROBE, kind: 'Drift', plural: 'drifts' };
function driftCrd(schema: 'loose' | 'tight'): KubeObject {
  const spec = {
    type: 'object',
    properties: {
      mode: { type: 'string', enum: schema === 'loose' ? ['a', 'b'] : ['a'] },
      name: { type: 'string', maxLength: schema === 'loose' ? 5 : 1 },
      count: { type: 'integer' },
    },
  };
  const status = { type: 'object', properties: { phase: { type: 'string' } } };
  return testCrd('Drift', { type: 'object', properties: { spec, status } });
}
const drift = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: DRIFT.apiVersion,
  kind: DRIFT.kind,
  metadata: { name, namespace: NS },
  spec,
});

/** Resolves once the CRD's kind is served: the API server answers a list of it with 200. */
async function establishedAndServed(kube: KubeFixture, crd: KubeObject): Promise<void> {
  const { group, names, versions } = crd.spec as {
    group: string;
    names: { plural: string };
    versions: { name: string }[];
  };
  const path = `/apis/${group}/${versions[0]!.name}/${names.plural}`;
  await eventually(`${path} served`, async () => (await kubeRequest(kube, 'GET', path)).status === 200, 30_000, 100);
}
