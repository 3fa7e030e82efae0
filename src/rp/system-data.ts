import type { Caller } from './auth.js';

export interface SystemData {
  createdBy?: string;
  createdByType?: string;
  createdAt?: string;
  lastModifiedBy?: string;
  lastModifiedByType?: string;
  lastModifiedAt?: string;
}

/**
 * systemData for a user-visible write [SHAPE-6]: from ARM's `x-ms-arm-resource-system-data`
 * header when present, else from the caller's token. `created*` is kept from the stored value on
 * updates and taken from the header's `created*` (or, failing that, its `lastModified*`) on create.
 */
export function systemDataFor(
  header: string | undefined,
  caller: Caller | undefined,
  previous: SystemData | undefined,
  now: Date,
): SystemData | undefined {
  const given = parseHeader(header) ?? fromCaller(caller, now);
  if (!given) return previous;
  const modified: SystemData = {
    lastModifiedBy: given.lastModifiedBy ?? given.createdBy,
    lastModifiedByType: given.lastModifiedByType ?? given.createdByType,
    lastModifiedAt: given.lastModifiedAt ?? given.createdAt,
  };
  if (previous?.createdAt) {
    return {
      createdBy: previous.createdBy,
      createdByType: previous.createdByType,
      createdAt: previous.createdAt,
      ...modified,
    };
  }
  return {
    createdBy: given.createdBy ?? modified.lastModifiedBy,
    createdByType: given.createdByType ?? modified.lastModifiedByType,
    createdAt: given.createdAt ?? modified.lastModifiedAt,
    ...modified,
  };
}

function parseHeader(header: string | undefined): SystemData | undefined {
  if (!header) return undefined;
  try {
    const value = JSON.parse(header) as Record<string, unknown>;
    if (typeof value !== 'object' || value === null) return undefined;
    const pick = (key: string) => (typeof value[key] === 'string' ? (value[key] as string) : undefined);
    return {
      createdBy: pick('createdBy'),
      createdByType: pick('createdByType'),
      createdAt: pick('createdAt'),
      lastModifiedBy: pick('lastModifiedBy'),
      lastModifiedByType: pick('lastModifiedByType'),
      lastModifiedAt: pick('lastModifiedAt'),
    };
  } catch {
    return undefined; // a malformed header is ARM's problem, not a reason to fail the user's write
  }
}

function fromCaller(caller: Caller | undefined, now: Date): SystemData | undefined {
  if (!caller) return undefined;
  return {
    lastModifiedBy: caller.principalName,
    lastModifiedByType: caller.principalType,
    lastModifiedAt: now.toISOString(),
  };
}
