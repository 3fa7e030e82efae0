import { requireApiVersion, resourceGroupOf, subscriptionOf, type ArmContext, type ArmRequest } from './context.js';
import type { Route } from './router.js';
import type { IndexedResource } from './store.js';

const LIST_KEYS = [
  'id',
  'name',
  'type',
  'location',
  'tags',
  'kind',
  'extendedLocation',
  'sku',
  'identity',
  'managedBy',
];

/**
 * `GET /subscriptions/{s}[/resourceGroups/{rg}]/resources` from the index of tracked resources
 * [RES-5], with the `$filter` forms clients use: `resourceType eq '…'`, `name eq '…'`,
 * `tagName eq '…' [and tagValue eq '…']`, joined by `and`.
 */
export function genericResourceRoutes(ctx: ArmContext): Route[] {
  const list = (request: ArmRequest, items: IndexedResource[]) => {
    requireApiVersion(request);
    const filter = parseFilter(request.query.$filter ?? request.query.filter);
    const value = items
      .map((r) => Object.fromEntries(LIST_KEYS.filter((k) => r.body[k] !== undefined).map((k) => [k, r.body[k]])))
      .filter((r) => matches(r, filter));
    return { status: 200, body: { value } };
  };
  return [
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/resources$/i,
      handler: async (request) => list(request, ctx.store.resources.list(subscriptionOf(ctx, request).id)),
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/resourceGroups\/(?<resourceGroup>[^/]+)\/resources$/i,
      handler: async (request) => {
        const group = resourceGroupOf(ctx, request);
        return list(request, ctx.store.resources.list(group.subscriptionId, group.name));
      },
    },
  ];
}

type Clause = { field: string; value: string; op: 'eq' | 'substringof' };

function parseFilter(filter: string | undefined): Clause[] {
  if (!filter) return [];
  return filter.split(/\s+and\s+/i).flatMap((part): Clause[] => {
    const eq = /^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(part);
    if (eq) return [{ field: eq[1]!.toLowerCase(), value: eq[2]!.replace(/''/g, "'"), op: 'eq' }];
    const sub = /^\s*substringof\(\s*'((?:[^']|'')*)'\s*,\s*(\w+)\s*\)\s*$/i.exec(part);
    if (sub) return [{ field: sub[2]!.toLowerCase(), value: sub[1]!.replace(/''/g, "'"), op: 'substringof' }];
    return [];
  });
}

function matches(resource: Record<string, unknown>, clauses: Clause[]): boolean {
  const tags = (resource.tags ?? {}) as Record<string, string>;
  const tagName = clauses.find((c) => c.field === 'tagname')?.value;
  return clauses.every((c) => {
    const text = (v: unknown) => String(v ?? '').toLowerCase();
    switch (c.field) {
      case 'resourcetype':
        return text(resource.type) === c.value.toLowerCase();
      case 'name':
        return c.op === 'eq'
          ? text(resource.name) === c.value.toLowerCase()
          : text(resource.name).includes(c.value.toLowerCase());
      case 'resourcegroup':
        return (
          (/\/resourceGroups\/([^/]+)/i.exec(String(resource.id))?.[1] ?? '').toLowerCase() === c.value.toLowerCase()
        );
      case 'location':
        return text(resource.location) === c.value.toLowerCase();
      case 'tagname':
        return Object.keys(tags).some((k) => k.toLowerCase() === c.value.toLowerCase());
      case 'tagvalue':
        return (
          tagName !== undefined &&
          Object.entries(tags).some(([k, v]) => k.toLowerCase() === tagName.toLowerCase() && v === c.value)
        );
      default:
        return true;
    }
  });
}
