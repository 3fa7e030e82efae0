// The Kubernetes peer itself: a real kube-apiserver + etcd built from source (test/peers/kube).
// Shows the things iotmq's extension relies on work against it: the admin kubeconfig, core CRUD,
// service-account tokens (TokenRequest) checked by TokenReview — what the broker's SAT
// authentication does — RBAC refusing an unprivileged service account, and the product's CRDs
// (extension/chart/crds) being accepted and enforced by the API server's schema validation.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { kubeRequest, useKube, API_AUDIENCE } from '../../peers/kube/fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const NS = 'iotmq-kube-test';
const CRD_DIR = join(here, '../../../extension/chart/crds');
/** Audience the MQTT broker's service-account-token (SAT) authentication asks for. */
const MQTT_AUDIENCE = 'aio-mq';

async function pinnedKubernetesVersion(): Promise<string> {
  const gomod = await readFile(join(here, '../../peers/kube/apiserver/go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(gomod);
  if (!m) throw new Error('k8s.io/kubernetes not required in go.mod');
  return m[1]!;
}

/** Polls until `fn` returns true (RBAC decisions follow informer caches, so a binding takes a moment). */
async function eventually(what: string, fn: () => Promise<boolean>, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('kube-apiserver peer (real kube-apiserver + etcd)', () => {
  const kube = useKube();

  it('/version reports the release pinned in test/peers/kube/apiserver/go.mod', async () => {
    const expected = await pinnedKubernetesVersion();
    const r = await kubeRequest(kube(), 'GET', '/version');
    expect(r.status).toBe(200);
    expect(r.body.gitVersion).toBe(expected);
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(expected)!;
    expect(r.body).toMatchObject({ major, minor });
    expect(kube().version).toBe(expected);

    // Without credentials the API server refuses (anonymous auth is off).
    const anon = await kubeRequest(kube(), 'GET', '/api/v1/namespaces', undefined, { token: null });
    expect(anon.status).toBe(401);
  });

  it('the kubeconfig it writes works: server, CA and admin token', async () => {
    const cfg = parseYaml(await readFile(kube().kubeconfigPath, 'utf8'));
    const ctx = cfg.contexts.find((c: { name: string }) => c.name === cfg['current-context']).context;
    const cluster = cfg.clusters.find((c: { name: string }) => c.name === ctx.cluster).cluster;
    const user = cfg.users.find((u: { name: string }) => u.name === ctx.user).user;
    const ca = await readFile(cluster['certificate-authority'], 'utf8');
    // Verified TLS against the CA from the kubeconfig (no rejectUnauthorized:false anywhere).
    const r = await kubeRequest({ server: cluster.server, token: user.token, ca }, 'GET', '/api/v1/namespaces/default');
    expect(r.status).toBe(200);
    expect(r.body.metadata.name).toBe('default');
  });

  it('creates a namespace and a ConfigMap and reads it back', async () => {
    const ns = await kubeRequest(kube(), 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    expect(ns.status, ns.text).toBe(201);

    const created = await kubeRequest(kube(), 'POST', `/api/v1/namespaces/${NS}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'broker-config', labels: { app: 'iotmq' } },
      data: { 'broker.toml': '[listener]\nport = 1883\n' },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);

    const got = await kubeRequest(kube(), 'GET', `/api/v1/namespaces/${NS}/configmaps/broker-config`);
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual({ 'broker.toml': '[listener]\nport = 1883\n' });
    expect(got.body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);

    const listed = await kubeRequest(kube(), 'GET', `/api/v1/namespaces/${NS}/configmaps?labelSelector=app%3Diotmq`);
    expect(listed.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['broker-config']);

    // A namespace that was never created is refused by NamespaceLifecycle admission.
    const orphan = await kubeRequest(kube(), 'POST', '/api/v1/namespaces/does-not-exist/configmaps', {
      metadata: { name: 'x' },
    });
    expect(orphan.status).toBe(404);
  });

  it('a service-account token from the TokenRequest API is authenticated by TokenReview (SAT auth)', async () => {
    await kubeRequest(kube(), 'POST', '/api/v1/namespaces', { metadata: { name: `${NS}-sat` } });
    const sa = await kubeRequest(kube(), 'POST', `/api/v1/namespaces/${NS}-sat/serviceaccounts`, {
      metadata: { name: 'mqtt-client' },
    });
    expect(sa.status, sa.text).toBe(201);

    const tr = await kubeRequest(kube(), 'POST', `/api/v1/namespaces/${NS}-sat/serviceaccounts/mqtt-client/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [MQTT_AUDIENCE], expirationSeconds: 3600 },
    });
    expect(tr.status, tr.text).toBe(201);
    const satToken: string = tr.body.status.token;
    expect(satToken.split('.')).toHaveLength(3); // a JWT
    const claims = JSON.parse(Buffer.from(satToken.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({
      iss: 'https://kubernetes.default.svc',
      aud: [MQTT_AUDIENCE],
      sub: `system:serviceaccount:${NS}-sat:mqtt-client`,
    });

    const review = (token: string, audiences?: string[]) =>
      kubeRequest(kube(), 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, ...(audiences ? { audiences } : {}) },
      });

    const ok = await review(satToken, [MQTT_AUDIENCE]);
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.status.authenticated).toBe(true);
    expect(ok.body.status.audiences).toEqual([MQTT_AUDIENCE]);
    expect(ok.body.status.user.username).toBe(`system:serviceaccount:${NS}-sat:mqtt-client`);
    expect(ok.body.status.user.uid).toBe(sa.body.metadata.uid);
    expect(ok.body.status.user.groups).toEqual(
      expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${NS}-sat`, 'system:authenticated']),
    );

    // The same token for another audience (the API server's own) is not authenticated...
    const wrongAudience = await review(satToken);
    expect(wrongAudience.body.status.authenticated).toBeFalsy();
    // ...nor is a token whose signature was tampered with.
    const [h, p, s] = satToken.split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -4)}${s!.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const bad = await review(tampered, [MQTT_AUDIENCE]);
    expect(bad.body.status.authenticated).toBeFalsy();
    // And the MQTT-audience token cannot be used against the API server itself.
    const direct = await kubeRequest(kube(), 'GET', '/api', undefined, { token: satToken });
    expect(direct.status).toBe(401);
  });

  it('RBAC: a service account without roles gets 403, and a RoleBinding grants exactly what it says', async () => {
    const ns = `${NS}-rbac`;
    await kubeRequest(kube(), 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
    expect(
      (await kubeRequest(kube(), 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'nobody' } }))
        .status,
    ).toBe(201);
    const tr = await kubeRequest(kube(), 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/nobody/token`, {
      spec: { expirationSeconds: 3600 }, // default audience: the API server's own
    });
    expect(tr.status, tr.text).toBe(201);
    const token: string = tr.body.status.token;
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).aud).toEqual([API_AUDIENCE]);

    const denied = await kubeRequest(kube(), 'GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, { token });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(denied.body.message).toContain(
      `User "system:serviceaccount:${ns}:nobody" cannot list resource "configmaps"`,
    );

    // Positive control: bind a Role that allows reading ConfigMaps; reading works, writing still does not.
    const role = await kubeRequest(kube(), 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      metadata: { name: 'configmap-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
    });
    expect(role.status, role.text).toBe(201);
    const binding = await kubeRequest(
      kube(),
      'POST',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
      {
        metadata: { name: 'nobody-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace: ns }],
      },
    );
    expect(binding.status, binding.text).toBe(201);
    await eventually('the RoleBinding to take effect', async () => {
      const r = await kubeRequest(kube(), 'GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, { token });
      return r.status === 200;
    });
    const write = await kubeRequest(
      kube(),
      'POST',
      `/api/v1/namespaces/${ns}/configmaps`,
      { metadata: { name: 'x' } },
      { token },
    );
    expect(write.status).toBe(403);
  });

  it('applies the chart CRDs; they become Established and the API server enforces their schemas', async () => {
    // Server-side apply every CRD from extension/chart/crds, as the chart/operator would.
    const files = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThan(0);
    const crds: any[] = [];
    for (const f of files) {
      for (const doc of parseAllDocuments(await readFile(join(CRD_DIR, f), 'utf8'))) {
        const crd = doc.toJS();
        if (crd?.kind === 'CustomResourceDefinition') crds.push(crd);
      }
    }
    for (const crd of crds) {
      const r = await kubeRequest(
        kube(),
        'PATCH',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=iotmq-test&force=true`,
        crd,
        { contentType: 'application/apply-patch+yaml' },
      );
      expect(r.status, `${crd.metadata.name}: ${r.text}`).toBe(201);
    }
    for (const crd of crds) {
      await eventually(`${crd.metadata.name} Established=True`, async () => {
        const r = await kubeRequest(
          kube(),
          'GET',
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        );
        const conds: { type: string; status: string }[] = r.body.status?.conditions ?? [];
        return conds.some((c) => c.type === 'Established' && c.status === 'True');
      });
    }

    // One kind end to end: BrokerListener (required brokerRef, int32 port in 0..65535, status enum).
    const listenerCrd = crds.find((c) => c.spec.names.kind === 'BrokerListener');
    expect(listenerCrd, 'BrokerListener CRD').toBeDefined();
    const { group } = listenerCrd.spec;
    const version = listenerCrd.spec.versions.find((v: { storage: boolean }) => v.storage).name;
    const ns = `${NS}-crds`;
    await kubeRequest(kube(), 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
    const base = `/apis/${group}/${version}/namespaces/${ns}/${listenerCrd.spec.names.plural}`;
    const cr = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: `${group}/${version}`,
      kind: 'BrokerListener',
      metadata: { name },
      spec,
    });

    const valid = await kubeRequest(kube(), 'POST', base, cr('listener', { brokerRef: 'broker', port: 1883 }));
    expect(valid.status, valid.text).toBe(201);
    // Structural-schema defaults are applied by the API server.
    const specSchema = listenerCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    for (const [prop, schema] of Object.entries<{ default?: unknown }>(specSchema)) {
      if (schema.default !== undefined)
        expect(valid.body.spec[prop], `default of spec.${prop}`).toEqual(schema.default);
    }

    const expectInvalid = async (body: unknown, ...messages: (string | RegExp)[]) => {
      const r = await kubeRequest(kube(), 'POST', base, body);
      expect(r.status, r.text).toBe(422);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });
      for (const m of messages) expect(r.body.message).toMatch(m);
      return r;
    };
    // Wrong type.
    await expectInvalid(
      cr('wrong-type', { brokerRef: 'broker', port: 'mqtt' }),
      /spec\.port: Invalid value: "string": spec\.port in body must be of type integer: "string"/,
    );
    // Out of range and a required field missing, reported together.
    await expectInvalid(
      cr('out-of-range', { port: 70000 }),
      /spec\.port: Invalid value: 70000: spec\.port in body should be less than or equal to 65535/,
      /spec\.brokerRef: Required value/,
    );
    // An extensible enum of the API is closed in the CRD, as the RP closes it (src/api/closed-enums.ts).
    await expectInvalid(
      cr('unknown-enum', { brokerRef: 'broker', port: 1884, serviceType: 'gigantic' }),
      /spec\.serviceType: Unsupported value: "gigantic": supported values: "clusterIp", "loadBalancer", "nodePort"/,
    );
    const none = await kubeRequest(kube(), 'GET', base);
    expect(none.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['listener']);

    // The enum on status conditions, through the status subresource.
    const condition = (status: string) => ({
      type: 'Ready',
      status,
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      reason: 'Reconciled',
      message: 'listener is serving',
    });
    const statusUrl = `${base}/listener/status`;
    const badStatus = await kubeRequest(kube(), 'PUT', statusUrl, {
      ...valid.body,
      status: { conditions: [condition('Maybe')] },
    });
    expect(badStatus.status, badStatus.text).toBe(422);
    expect(badStatus.body.message).toContain(
      'status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"',
    );
    const goodStatus = await kubeRequest(kube(), 'PUT', statusUrl, {
      ...valid.body,
      status: { observedGeneration: 1, conditions: [condition('True')] },
    });
    expect(goodStatus.status, goodStatus.text).toBe(200);
    expect(goodStatus.body.status.conditions[0].status).toBe('True');
  });
});
