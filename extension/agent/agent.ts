// The extension agent: RP feed → custom resources on the cluster, CR status → RP. Level-triggered
// per ARM resource: feed events and CR events only record the latest desired state and queue the
// resource id; one reconcile at a time per id reads the CR and converges it.
import type { TokenCredential } from '@azure/core-auth';
import { armTypeOf } from '../../src/api/arm-id.js';
import { buildRegistry, type ResourceTypeRegistry } from '../../src/api/registry.js';
import { componentLogger } from '../../src/common/log.js';
import {
  createInformer,
  createKeyedQueue,
  type BackoffOptions,
  type ClusterClient,
  type Informer,
  type KubeObject,
} from '../cluster/index.js';
import {
  AGENT_FIELD_MANAGER,
  AGENT_FINALIZER,
  DEFAULT_TOKEN_SCOPE,
  ETAG_ANNOTATION,
  PROVIDER_LABEL,
  PROVIDER_LABEL_VALUE,
  RESOURCE_ID_ANNOTATION,
} from './constants.js';
import { crName, crType, isTerminal, refusalOf, specSatisfies, statusOf, toCustomResource } from './custom-resource.js';
import { holdFeed } from './feed.js';
import type { ArmResource } from '../../src/api/agent-protocol.js';
import { createRpClient, type RpClient } from './rp-client.js';
import { createStatusReporter } from './status-reporter.js';

export interface AgentOptions {
  rpUrl: string;
  clusterId: string;
  /** The custom location's namespace: every CR of this agent lives here. */
  namespace: string;
  credential: TokenCredential;
  cluster: ClusterClient;
  scope?: string;
  /** Extra CA (PEM) to trust for the RP. */
  ca?: string;
  registry?: ResourceTypeRegistry;
  backoff?: BackoffOptions;
  /** Feed idle timeout (see RpClientOptions). */
  idleTimeoutMs?: number;
  /** For tests: talk to the RP through this client instead. */
  rpClient?: RpClient;
}

export interface Agent {
  /** Resolves after the first relist from the RP has been queued. */
  readonly synced: Promise<void>;
  /** Resolves when no resource is being reconciled and every report has been sent. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** What the RP last said about one resource. `gone`: it no longer exists there. */
type Desired = { etag: string; id: string; resource: ArmResource; gone?: false } | { gone: true; id: string };

export function createAgent(options: AgentOptions): Agent {
  const log = componentLogger('agent', { clusterId: options.clusterId });
  const registry = options.registry ?? buildRegistry();
  const { cluster, namespace } = options;
  const rp =
    options.rpClient ??
    createRpClient({
      url: options.rpUrl,
      clusterId: options.clusterId,
      credential: options.credential,
      scope: options.scope ?? DEFAULT_TOKEN_SCOPE,
      ca: options.ca,
      idleTimeoutMs: options.idleTimeoutMs,
    });
  const reporter = createStatusReporter(rp, { log, backoff: options.backoff });
  const desired = new Map<string, Desired>();
  const kinds = registry.types.flatMap((t) => (t.crKind ? [t.crKind] : []));
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const queue = createKeyedQueue((key) => reconcile(key), {
    retry: options.backoff,
    onError: (key, error) => log.warn({ resourceId: key, err: error }, 'reconcile failed: retrying'),
  });

  // Only the agent's own CRs: labelled by it and carrying an ARM id. GitOps/kubectl CRs never get here.
  const informers = new Map<string, Informer>(
    kinds.map((kind) => [
      kind,
      createInformer({
        client: cluster,
        type: crType(kind),
        namespace,
        labelSelector: `${PROVIDER_LABEL}=${PROVIDER_LABEL_VALUE}`,
        log,
        upsert: (cr) => enqueueCr(cr),
        remove: (cr) => enqueueCr(cr),
      }),
    ]),
  );

  function enqueueCr(cr: KubeObject): void {
    const id = cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION];
    if (!id) return;
    const key = id.toLowerCase();
    if (!desired.has(key)) desired.set(key, { gone: true, id }); // no longer (or not yet) known to the RP: settled after the relist
    queue.add(key);
  }

  let relistedOnce = false;
  const feed = holdFeed(
    rp,
    {
      upsert(id, etag, resource) {
        desired.set(id.toLowerCase(), { id, etag, resource });
        queue.add(id.toLowerCase());
      },
      remove(id) {
        desired.set(id.toLowerCase(), { gone: true, id });
        queue.add(id.toLowerCase());
      },
      relisted(ids) {
        // What the RP no longer has is pruned; nothing is pruned before the RP has answered.
        for (const [key, entry] of desired) {
          if (!ids.has(key)) {
            desired.set(key, { gone: true, id: entry.id });
            queue.add(key);
          }
        }
        for (const informer of informers.values()) {
          for (const cr of informer.list()) {
            const id = cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION];
            if (id && !ids.has(id.toLowerCase())) enqueueCr(cr);
          }
        }
        relistedOnce = true;
        markSynced();
      },
    },
    { log, backoff: options.backoff },
  );

  function typeOfResource(resource: ArmResource, id: string) {
    return registry.find(resource.type ?? '') ?? registry.find(armTypeOf(id));
  }

  async function reconcile(key: string): Promise<void> {
    await Promise.all([...informers.values()].map((i) => i.ready));
    const want = desired.get(key);
    if (!want) return;
    const kind = want.gone ? kindOfCr(key) : typeOfResource(want.resource, want.id)?.crKind;

    if (!want.gone && !kind) {
      // `mq` only groups: nothing to apply, the cluster agrees at once.
      const state = want.resource.properties?.provisioningState;
      if (state === 'Deleting') reporter.report({ resourceId: want.id, etag: want.etag, status: 'Deleted' });
      else if (!isTerminal(state)) reporter.report({ resourceId: want.id, etag: want.etag, status: 'Succeeded' });
      return;
    }
    if (!kind) {
      desired.delete(key);
      return;
    }
    const type = crType(kind);
    const name = crName(want.id);
    const cr = await cluster.get(type, namespace, name);
    const owner = cr?.metadata.annotations?.[RESOURCE_ID_ANNOTATION];
    if (cr && owner?.toLowerCase() !== key) {
      // Someone else's CR (GitOps, kubectl or another ARM id) holds the name: never touch it.
      if (want.gone) return void desired.delete(key);
      const state = want.resource.properties?.provisioningState;
      if (state === 'Deleting') reporter.report({ resourceId: want.id, etag: want.etag, status: 'Deleted' });
      else
        reporter.report({
          resourceId: want.id,
          etag: want.etag,
          status: 'Failed',
          error: {
            code: 'CustomResourceConflict',
            message: `The ${kind} '${name}' in namespace '${namespace}' exists and is not managed by the agent (annotation ${RESOURCE_ID_ANNOTATION}); it was left untouched.`,
          },
        });
      return;
    }

    const deleting = want.gone || want.resource.properties?.provisioningState === 'Deleting';
    if (deleting) {
      if (!relistedOnce && want.gone) return; // never prune before the RP has answered a relist
      const etag = want.gone ? undefined : want.etag;
      if (!cr) {
        if (etag) reporter.report({ resourceId: want.id, etag, status: 'Deleted' });
        if (want.gone) desired.delete(key);
        return;
      }
      if (!cr.metadata.deletionTimestamp) {
        log.info({ resourceId: want.id, kind, name }, 'deleting custom resource');
        await cluster.delete(type, namespace, name);
        return; // the CR's own watch event brings us back
      }
      const others = (cr.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER);
      if (others.length) return; // the operator is still cleaning up; its finalizer removal requeues us
      await cluster.removeFinalizer(type, namespace, name, AGENT_FINALIZER);
      if (etag) reporter.report({ resourceId: want.id, etag, status: 'Deleted' });
      return;
    }

    const wanted = toCustomResource(kind, namespace, want.id, want.etag, want.resource);
    let current = cr;
    if (current?.metadata.deletionTimestamp) return; // being deleted (an earlier delete): wait until it is gone
    if (
      !current ||
      current.metadata.annotations?.[ETAG_ANNOTATION] !== want.etag ||
      !specSatisfies(current.spec, wanted.spec)
    ) {
      try {
        current = await cluster.apply(wanted, { fieldManager: AGENT_FIELD_MANAGER, force: true });
      } catch (error) {
        // The cluster's CRD refuses what the RP accepted (CRDs of another release): retrying cannot
        // help until the resource changes, so its operation fails with the API server's causes.
        const refusal = refusalOf(kind, name, error);
        if (!refusal) throw error;
        log.warn({ resourceId: want.id, kind, name, err: error }, 'custom resource refused by the cluster');
        reporter.report({ resourceId: want.id, etag: want.etag, status: 'Failed', error: refusal });
        return;
      }
      log.info({ resourceId: want.id, kind, name, generation: current.metadata.generation }, 'applied custom resource');
    }
    const observed = statusOf(current);
    const state = want.resource.properties?.provisioningState;
    if (observed.status === state) return;
    if (observed.status === 'Provisioning' && state !== 'Accepted') return; // progress is only worth telling once
    reporter.report({ resourceId: want.id, etag: want.etag, ...observed });
  }

  /** The kind of the agent's CR for an id that is no longer in the RP (from the informers' caches). */
  function kindOfCr(key: string): string | undefined {
    for (const [kind, informer] of informers) {
      if (informer.list().some((cr) => cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION]?.toLowerCase() === key))
        return kind;
    }
    const type = registry.find(armTypeOf(key));
    return type?.crKind;
  }

  return {
    synced,
    async idle() {
      await queue.idle();
      await reporter.flushed();
    },
    async stop() {
      feed.stop();
      queue.stop();
      reporter.stop();
      for (const informer of informers.values()) informer.stop();
    },
  };
}
