import { API_VERSION, type OpenApiDocument } from '../../src/api/openapi.js';
import { providerOperations } from '../../src/api/operations.js';
import type { ResourceType, ResourceTypeRegistry } from '../../src/api/registry.js';
import { SAMPLES, type Sample } from './samples.js';

/** Where the example deployment lives: one factory's edge cluster in East US. */
const SUBSCRIPTION = '5c1f8a2e-93d4-4b7a-a6e1-0d2f7c9b4e38';
const RESOURCE_GROUP = 'contoso-plant-edge';
const LOCATION = 'eastus';
const CUSTOM_LOCATION = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.ExtendedLocation/customLocations/contoso-plant-cl`;
const SYSTEM_DATA = {
  createdBy: 'ops@contoso.com',
  createdByType: 'User',
  createdAt: '2023-11-14T09:12:31.0000000Z',
  lastModifiedBy: 'ops@contoso.com',
  lastModifiedByType: 'User',
  lastModifiedAt: '2023-11-14T09:12:31.0000000Z',
};
const ASYNC_BASE = `https://management.azure.com/providers/Microsoft.IoTOperationsMQ/locations/${LOCATION}/operationStatuses`;

/** Body parameter names that the ARM TypeSpec templates give PUT and PATCH in the Swagger. */
export const PUT_BODY_PARAMETER = 'resource';
export const PATCH_BODY_PARAMETER = 'properties';

type Example = {
  title: string;
  operationId: string;
  parameters: Record<string, unknown>;
  responses: Record<string, unknown>;
};

/** One example file per operation, keyed by file name (`<operationId>.json`). */
export function buildExamples(document: OpenApiDocument, registry: ResourceTypeRegistry): Map<string, Example> {
  const examples = new Map<string, Example>();
  const add = (example: Example) => examples.set(`${example.operationId}.json`, example);

  add({
    title: 'List the operations of the provider',
    operationId: 'Operations_List',
    parameters: { 'api-version': API_VERSION },
    responses: { '200': { body: { value: providerOperations(registry) } } },
  });

  for (const type of registry.types) {
    const sample = sampleOf(type);
    const path = pathParameters(type);
    const resource = armResource(type, 'Succeeded');
    const label = sample.label;
    add({
      title: `Get ${label}`,
      operationId: type.operations.get,
      parameters: { 'api-version': API_VERSION, ...path },
      responses: { '200': { body: resource } },
    });
    const asyncHeaders = {
      'Azure-AsyncOperation': `${ASYNC_BASE}/8e4d2c1a-5b7f-4a3e-9d6c-1f0e2b3a4c5d?api-version=${API_VERSION}`,
      'Retry-After': 10,
    };
    add({
      title: `Create or update ${label}`,
      operationId: type.operations.createOrUpdate,
      parameters: {
        'api-version': API_VERSION,
        ...path,
        [PUT_BODY_PARAMETER]: {
          location: LOCATION,
          extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
          tags: sample.tags,
          properties: sample.properties,
        },
      },
      responses: {
        '200': { body: armResource(type, 'Updating') },
        '201': { headers: asyncHeaders, body: armResource(type, 'Accepted') },
      },
    });
    add({
      title: `Update the tags of ${label}`,
      operationId: type.operations.update,
      parameters: {
        'api-version': API_VERSION,
        ...path,
        [PATCH_BODY_PARAMETER]: { tags: { ...sample.tags, owner: 'line-3' } },
      },
      responses: { '200': { body: { ...resource, tags: { ...sample.tags, owner: 'line-3' } } } },
    });
    add({
      title: `Delete ${label}`,
      operationId: type.operations.delete,
      parameters: { 'api-version': API_VERSION, ...path },
      responses: {
        '202': {
          headers: {
            Location: `${ASYNC_BASE.replace('operationStatuses', 'operationResults')}/3a9f7e2d-6c1b-4d8e-b5a4-2e7f0c9d1b6a?api-version=${API_VERSION}`,
            'Retry-After': 10,
          },
        },
        '204': {},
      },
    });
    for (const operationId of type.operations.lists) {
      const bySubscription = operationId.endsWith('_ListBySubscription');
      const scope = bySubscription
        ? { subscriptionId: SUBSCRIPTION }
        : Object.fromEntries(Object.entries(path).slice(0, -1));
      add({
        title: `List ${sample.plural} ${bySubscription ? 'in a subscription' : type.parent ? `of a ${sampleOf(type.parent).label.replace(/^(a|an|the) /, '')}` : 'in a resource group'}`,
        operationId,
        parameters: { 'api-version': API_VERSION, ...scope },
        responses: { '200': { body: { value: [resource] } } },
      });
    }
  }
  void document;
  return examples;
}

function sampleOf(type: ResourceType): Sample {
  const sample = SAMPLES[type.tag];
  if (!sample) throw new Error(`scripts/specs/samples.ts has no sample for ${type.tag}: add one`);
  return sample;
}

function chain(type: ResourceType): ResourceType[] {
  return type.parent ? [...chain(type.parent), type] : [type];
}

function pathParameters(type: ResourceType): Record<string, string> {
  const parameters: Record<string, string> = { subscriptionId: SUBSCRIPTION, resourceGroupName: RESOURCE_GROUP };
  for (const t of chain(type)) parameters[t.nameParameters.at(-1)!] = sampleOf(t).name;
  return parameters;
}

function armResource(type: ResourceType, provisioningState: string): Record<string, unknown> {
  const sample = sampleOf(type);
  const namePath = chain(type)
    .map((t) => `${t.segments.at(-1)}/${sampleOf(t).name}`)
    .join('/');
  return {
    id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.IoTOperationsMQ/${namePath}`,
    name: sample.name,
    type: type.armType,
    location: LOCATION,
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    tags: sample.tags,
    systemData: SYSTEM_DATA,
    properties: { ...sample.properties, provisioningState },
  };
}
