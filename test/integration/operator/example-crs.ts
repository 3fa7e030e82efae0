// The spec's examples (specs/examples, x-ms-examples) as the custom resources the agent applies for
// them, made by the agent's own conversion (toCustomResource): what every cluster must accept.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { API_VERSION } from '../../../src/api/openapi.js';
import { buildRegistry } from '../../../src/api/registry.js';
import { packageRoot } from '../../../src/common/paths.js';
import { toCustomResource } from '../../../extension/agent/index.js';
import type { KubeObject } from '../../../extension/cluster/index.js';

const EXAMPLES = path.join(packageRoot, 'specs/examples', API_VERSION);
type Any = Record<string, any>; // example JSON

export interface ExampleCustomResource {
  /** The example file and where in it the resource is, e.g. `Broker_Get.json 200`. */
  source: string;
  cr: KubeObject;
}

/**
 * The custom resource of every resource an example answers with (`operations`: only files whose
 * name ends with one of them, e.g. `_CreateOrUpdate`), in `namespace`. Types without a custom
 * resource (mq itself) are left out.
 */
export function exampleCustomResources(namespace: string, operations?: readonly string[]): ExampleCustomResource[] {
  const registry = buildRegistry();
  return readdirSync(EXAMPLES)
    .filter((file) => file.endsWith('.json'))
    .filter((file) => !operations || operations.some((operation) => file.endsWith(`${operation}.json`)))
    .sort()
    .flatMap((file) => {
      const example = JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as Any;
      return Object.entries(example.responses as Record<string, { body?: Any }>).flatMap(([status, response]) => {
        const resources: Any[] = response.body?.value ?? (response.body?.properties ? [response.body] : []);
        return resources.flatMap((resource, i) => {
          const kind = typeof resource.type === 'string' ? registry.find(resource.type)?.crKind : undefined;
          if (!kind) return [];
          const source = `${file} ${status}${response.body?.value ? ` value[${i}]` : ''}`;
          return [{ source, cr: toCustomResource(kind, namespace, resource.id, 'W/"1"', resource as never) }];
        });
      });
    });
}
