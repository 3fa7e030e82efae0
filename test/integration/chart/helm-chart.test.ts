// The Helm chart of the Arc extension, linted and rendered by a real helm (built from the Go module
// proxy by test/peers/helm.sh): which objects it makes, with which images, arguments and values,
// and that its RBAC is namespaced and least-privilege. The RBAC is exercised against a real API
// server in test/integration/kube/chart-rbac.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../extension/cluster/index.js';
import { ensureHelm, HELM_BUILD_TIMEOUT_MS, runHelm } from '../../peers/helm.js';
import { CHART_DIR, renderChart, setArgs, VALUES } from './render-chart.js';

const NS = 'iotmq-system';
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Any = any;

describe('Helm chart (extension/chart)', () => {
  let helm: string;
  let objects: KubeObject[];
  beforeAll(async () => {
    helm = await ensureHelm();
    objects = await renderChart(helm, NS);
  }, HELM_BUILD_TIMEOUT_MS);
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as Any;

  it('helm lint passes with the required values', async () => {
    const lint = await runHelm(helm, ['lint', CHART_DIR, '--strict', ...setArgs(VALUES)]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders two ServiceAccounts, Roles and RoleBindings, the identity Secret and two Deployments, all in the namespace; nothing cluster-wide', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual([
      'Deployment/iotmq-agent',
      'Deployment/iotmq-operator',
      'Role/iotmq-agent',
      'Role/iotmq-operator',
      'RoleBinding/iotmq-agent',
      'RoleBinding/iotmq-operator',
      'Secret/iotmq-identity',
      'ServiceAccount/iotmq-agent',
      'ServiceAccount/iotmq-operator',
    ]);
    for (const o of objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NS);
    expect(objects.some((o) => o.kind.startsWith('Cluster'))).toBe(false);
  });

  it('--include-crds adds the 11 CRDs from crds/', async () => {
    const withCrds = await renderChart(helm, NS, VALUES, ['--include-crds']);
    const crds = withCrds.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds).toHaveLength(11);
    expect(crds.every((c) => (c.spec as Any).group === 'mq.iotoperations.azure.com')).toBe(true);
  });

  it('the agent Role covers the mq CRs (+ status read, finalizers) and nothing else', () => {
    const rules = find('Role', 'iotmq-agent').rules as Rule[];
    expect(rules.flatMap((r) => r.apiGroups)).toEqual([
      'mq.iotoperations.azure.com',
      'mq.iotoperations.azure.com',
      'mq.iotoperations.azure.com',
    ]);
    const [crs, status, finalizers] = rules;
    expect(crs!.resources).toHaveLength(11);
    expect(crs!.resources).toContain('brokerlisteners');
    expect(crs!.verbs.sort()).toEqual(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
    expect(status!.resources.every((r) => r.endsWith('/status'))).toBe(true);
    expect(status!.verbs).toEqual(['get']);
    expect(finalizers!.resources.every((r) => r.endsWith('/finalizers'))).toBe(true);
    expect(finalizers!.verbs).toEqual(['update']);
    expect(JSON.stringify(rules)).not.toContain('*');
  });

  it('the operator Role: CRs without create/delete, status write, and the workload kinds it plans', () => {
    const rules = find('Role', 'iotmq-operator').rules as Rule[];
    const byGroup = (group: string) => rules.filter((r) => r.apiGroups.includes(group));
    const [crs, status] = byGroup('mq.iotoperations.azure.com');
    expect(crs!.verbs.sort()).toEqual(['get', 'list', 'patch', 'update', 'watch']);
    expect(status!.verbs.sort()).toEqual(['get', 'patch', 'update']);
    expect(byGroup('')[0]!.resources.sort()).toEqual(['configmaps', 'secrets', 'services']);
    expect(byGroup('apps')[0]!.resources.sort()).toEqual(['deployments', 'statefulsets']);
    expect(JSON.stringify(rules)).not.toContain('*');
    // Bindings point each ServiceAccount at its own Role.
    for (const name of ['iotmq-agent', 'iotmq-operator']) {
      const binding = find('RoleBinding', name);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name, namespace: NS }]);
    }
  });

  it('Deployments run `iotmq agent` / `iotmq operator` from the image with the values, as their ServiceAccounts, hardened', () => {
    const agent = find('Deployment', 'iotmq-agent').spec.template.spec;
    const operator = find('Deployment', 'iotmq-operator').spec.template.spec;
    expect(agent.serviceAccountName).toBe('iotmq-agent');
    expect(operator.serviceAccountName).toBe('iotmq-operator');
    expect(agent.containers[0].image).toBe('ghcr.io/iotmq/iotmq:9.9.9');
    expect(operator.containers[0].image).toBe('ghcr.io/iotmq/iotmq:9.9.9');
    expect(agent.containers[0].args).toEqual([
      'agent',
      `--rp-url=${VALUES.rpEndpoint}`,
      `--cluster-id=${VALUES.clusterId}`,
      `--namespace=${NS}`,
      '--token-scope=https://management.azure.com/.default',
      '--credential=client-secret',
    ]);
    expect(operator.containers[0].args).toEqual([
      'operator',
      '--driver=kubernetes',
      `--namespace=${NS}`,
      '--image=ghcr.io/iotmq/iotmq:9.9.9',
    ]);
    const env = Object.fromEntries(
      agent.containers[0].env.map((e: Any) => [e.name, e.valueFrom?.secretKeyRef ?? e.value]),
    );
    expect(env.AZURE_CLIENT_SECRET).toEqual({ name: 'iotmq-identity', key: 'clientSecret' });
    expect(find('Secret', 'iotmq-identity').stringData).toEqual({
      tenantId: 'tenant-1',
      clientId: 'client-1',
      clientSecret: 's3cret',
    });
    for (const spec of [agent, operator]) {
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.containers[0].securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
    }
  });

  it('workload identity: no Secret, the ServiceAccount carries the client id, pods opt in, the agent uses the federated token', async () => {
    const { 'identity.clientSecret': _s, ...rest } = VALUES;
    const wi = await renderChart(helm, NS, { ...rest, 'identity.workloadIdentity.enabled': 'true' }, [
      '--set',
      'identity.workloadIdentity.enabled=true',
    ]);
    expect(wi.some((o) => o.kind === 'Secret')).toBe(false);
    const sa = wi.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'iotmq-agent')!;
    expect(sa.metadata.annotations?.['azure.workload.identity/client-id']).toBe('client-1');
    const pod = (wi.find((o) => o.kind === 'Deployment' && o.metadata.name === 'iotmq-agent')!.spec as Any).template;
    expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(pod.spec.containers[0].args).toContain('--credential=workload-identity');
  });

  it('refuses to render without rpEndpoint, clusterId or an identity', async () => {
    const { rpEndpoint: _r, ...noRp } = VALUES;
    const cases: [Record<string, string>, RegExp][] = [
      [noRp, /rpEndpoint is required/],
      [{ ...VALUES, rpEndpoint: 'http://plain' }, /must be an https/],
      [{ ...VALUES, 'identity.clientSecret': '' }, /identity: set workloadIdentity/],
    ];
    for (const [values, message] of cases) {
      const result = await runHelm(helm, ['template', 'iotmq', CHART_DIR, ...setArgs(values)]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    }
  });
});
