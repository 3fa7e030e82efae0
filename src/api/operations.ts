import type { ResourceTypeRegistry } from './registry.js';

/** An entry of the provider's operations API (`GET /providers/Microsoft.IoTOperationsMQ/operations`). */
export interface ProviderOperation {
  name: string;
  isDataAction: boolean;
  display: { provider: string; resource: string; operation: string; description: string };
  origin: 'user,system';
  actionType?: 'Internal';
}

const VERBS = [
  ['read', 'Read', 'Gets or lists'],
  ['write', 'Create or update', 'Creates or updates'],
  ['delete', 'Delete', 'Deletes'],
] as const;

/** read, write and delete for every resource type, as RBAC and the portal expect them. */
export function providerOperations(registry: ResourceTypeRegistry): ProviderOperation[] {
  const provider = 'Azure IoT MQ';
  return registry.types.flatMap((type) =>
    VERBS.map(([verb, operation, does]) => ({
      name: `${type.armType}/${verb}`,
      isDataAction: false,
      display: {
        provider,
        resource: type.tag,
        operation: `${operation} ${type.tag}`,
        description: `${does} ${type.tag} resources.`,
      },
      origin: 'user,system' as const,
    })),
  );
}
