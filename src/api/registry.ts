import {
  loadOpenApi,
  PROVIDER_NAMESPACE,
  refName,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiOperation,
} from './openapi.js';

/**
 * One resource type of the provider, as the emitted spec defines it. The RP's handlers, the
 * example generator, the CRD generator and the agent all work from these entries, so adding a
 * type to specs/ is all it takes for it to exist everywhere.
 */
export interface ResourceType {
  /** Operation tag and operationId prefix, e.g. `BrokerListener`. */
  readonly tag: string;
  /** Type segments under the namespace, e.g. `['mq', 'broker', 'listener']`. */
  readonly segments: readonly string[];
  /** Full ARM type, e.g. `Microsoft.IoTOperationsMQ/mq/broker/listener`. */
  readonly armType: string;
  /** Path parameter of each name segment, e.g. `['mqName', 'brokerName', 'listenerName']`. */
  readonly nameParameters: readonly string[];
  /** Pattern every name segment of this type must match. */
  readonly namePattern: string;
  /** The parent type (undefined for `mq`, whose parent is the resource group). */
  readonly parent?: ResourceType;
  /** Schema names in the spec's components. */
  readonly schemas: { readonly resource: string; readonly properties: string; readonly update: string };
  /** operationIds with the Swagger casing, e.g. `BrokerListener_CreateOrUpdate`. */
  readonly operations: {
    readonly get: string;
    readonly createOrUpdate: string;
    readonly update: string;
    readonly delete: string;
    readonly lists: readonly string[];
  };
  /** The custom resource kind on clusters (`mq` itself has none: it only groups). */
  readonly crKind?: string;
}

export interface ResourceTypeRegistry {
  readonly types: readonly ResourceType[];
  /** Case-insensitive lookup by type segments (`mq/broker`) or full ARM type. */
  find(type: string): ResourceType | undefined;
  byTag(tag: string): ResourceType;
}

const PROVIDER_PREFIX = `/providers/${PROVIDER_NAMESPACE}/`;

/** Builds the registry from an emitted OpenAPI 3 document (default: the committed one). */
export function buildRegistry(document: OpenApiDocument = loadOpenApi()): ResourceTypeRegistry {
  const bySegments = new Map<string, ResourceType>();
  const resourcePaths = Object.entries(document.paths)
    .filter(([, item]) => item.put !== undefined && item.put.operationId)
    .sort(([a], [b]) => a.length - b.length); // parents before children

  for (const [path, item] of resourcePaths) {
    const { segments, nameParameters } = parseResourcePath(path);
    const put = item.put!;
    const tag = put.tags?.[0] ?? put.operationId.split('_')[0]!;
    const resourceSchema = bodySchemaName(put);
    const parent = segments.length > 1 ? bySegments.get(segments.slice(0, -1).join('/').toLowerCase()) : undefined;
    if (segments.length > 1 && !parent) throw new Error(`spec: ${path} has no parent resource path`);
    const type: ResourceType = {
      tag,
      segments,
      armType: `${PROVIDER_NAMESPACE}/${segments.join('/')}`,
      nameParameters,
      namePattern: namePatternOf(document, put, nameParameters.at(-1)!),
      parent,
      schemas: {
        resource: resourceSchema,
        properties: propertiesSchemaName(document.components.schemas[resourceSchema]!, resourceSchema),
        update: bodySchemaName(item.patch ?? fail(`spec: ${path} has no PATCH`)),
      },
      operations: {
        get: swaggerCase(item.get?.operationId ?? fail(`spec: ${path} has no GET`)),
        createOrUpdate: swaggerCase(put.operationId),
        update: swaggerCase(item.patch!.operationId),
        delete: swaggerCase(item.delete?.operationId ?? fail(`spec: ${path} has no DELETE`)),
        lists: listOperationsOf(document, tag),
      },
      crKind: segments.length > 1 ? tag : undefined,
    };
    bySegments.set(segments.join('/').toLowerCase(), type);
  }

  const types = [...bySegments.values()];
  return {
    types,
    find(type) {
      const key = type.toLowerCase();
      const prefix = `${PROVIDER_NAMESPACE.toLowerCase()}/`;
      return bySegments.get(key.startsWith(prefix) ? key.slice(prefix.length) : key);
    },
    byTag(tag) {
      return types.find((t) => t.tag === tag) ?? fail(`no resource type with tag ${tag}`);
    },
  };
}

function parseResourcePath(path: string): { segments: string[]; nameParameters: string[] } {
  const at = path.indexOf(PROVIDER_PREFIX);
  if (at < 0) throw new Error(`spec: ${path} is not under ${PROVIDER_PREFIX}`);
  const parts = path.slice(at + PROVIDER_PREFIX.length).split('/');
  const segments: string[] = [];
  const nameParameters: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    segments.push(parts[i]!);
    nameParameters.push(
      /^\{(.+)\}$/.exec(parts[i + 1] ?? '')?.[1] ?? fail(`spec: ${path} has no name after ${parts[i]}`),
    );
  }
  return { segments, nameParameters };
}

function bodySchemaName(operation: OpenApiOperation): string {
  const schema = operation.requestBody?.content['application/json']?.schema;
  if (typeof schema?.$ref !== 'string') throw new Error(`spec: ${operation.operationId} has no JSON body`);
  return refName(schema.$ref);
}

function propertiesSchemaName(resource: JsonSchema, name: string): string {
  const property = (resource.properties as Record<string, JsonSchema> | undefined)?.properties;
  const ref = property?.$ref ?? (property?.allOf as JsonSchema[] | undefined)?.[0]?.$ref;
  if (typeof ref !== 'string') throw new Error(`spec: ${name} has no properties bag`);
  return refName(ref);
}

function namePatternOf(document: OpenApiDocument, operation: OpenApiOperation, parameter: string): string {
  for (const p of operation.parameters ?? []) {
    const resolved = '$ref' in p ? document.components.parameters?.[p.$ref.split('/').at(-1)!] : p;
    if (resolved?.name === parameter && typeof resolved.schema?.pattern === 'string') return resolved.schema.pattern;
  }
  throw new Error(`spec: ${operation.operationId} has no pattern for ${parameter}`);
}

function listOperationsOf(document: OpenApiDocument, tag: string): string[] {
  const lists: string[] = [];
  for (const item of Object.values(document.paths)) {
    const get = item.get;
    if (get && !item.put && get.tags?.[0] === tag) lists.push(swaggerCase(get.operationId));
  }
  return lists.sort();
}

/** The OpenAPI 3 emitter writes `Mq_createOrUpdate`; ARM's Swagger (and SDKs) say `Mq_CreateOrUpdate`. */
export function swaggerCase(operationId: string): string {
  const [prefix, name = ''] = operationId.split('_');
  return `${prefix}_${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

function fail(message: string): never {
  throw new Error(message);
}
