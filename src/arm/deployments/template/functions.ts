import { createHash } from 'node:crypto';
import { ExpressionError } from './expression.js';
import { LIMITS, measure } from './limits.js';
import type { Secrets } from './secrets.js';

/** ARM's scope objects and runtime hooks that functions read [TPL-7]. */
export interface FunctionScope {
  parameter(name: string): unknown;
  variable(name: string): unknown;
  copyIndex(loop: string | undefined): number;
  resourceGroup: Record<string, unknown>;
  subscription: Record<string, unknown>;
  tenant: Record<string, unknown>;
  deployment: Record<string, unknown>;
  environment: Record<string, unknown>;
  /** Marks what derives from secure parameters, so that it is never printed [issue 11.11]. */
  secrets?: Secrets;
  /** `reference()`: only where runtime functions are allowed (resource bodies, outputs). */
  reference?(target: string, apiVersion: string | undefined, full: boolean): unknown;
}

type Fn = (args: unknown[], scope: FunctionScope) => unknown;

const str = (v: unknown, fn: string): string => {
  if (typeof v !== 'string') throw new ExpressionError(`${fn}() expects a string, got ${JSON.stringify(v)}`);
  return v;
};
const int = (v: unknown, fn: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new ExpressionError(`${fn}() expects an integer, got ${JSON.stringify(v)}`);
  return v;
};
const arr = (v: unknown, fn: string): unknown[] => {
  if (!Array.isArray(v)) throw new ExpressionError(`${fn}() expects an array, got ${JSON.stringify(v)}`);
  return v;
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value's identity for equality: key order does not matter, as in ARM. */
const canonical = (v: unknown): string => JSON.stringify(normaliseForCompare(v));
const equals = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
/** Distinct values of `list`, first occurrence kept: one canonical form per item, not a comparison per pair. */
const distinct = (list: unknown[]): unknown[] => {
  const seen = new Set<string>();
  return list.filter((v) => {
    const key = canonical(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};
/** Fails before a string of `length` characters is built, rather than after. */
const room = (fn: string, length: number): void => {
  if (length > LIMITS.valueChars)
    throw new ExpressionError(
      `The result of ${fn}() would have ${length.toLocaleString('en-US')} characters; a template value may have at most ${LIMITS.valueChars.toLocaleString('en-US')} (ARM's 4 MB template limit).`,
    );
};
/** Values parsed from text (json(), base64ToJson()) nest no deeper than a template may. */
const parsed = (fn: string, text: string): unknown => {
  const value: unknown = JSON.parse(text);
  try {
    measure(value, Number.POSITIVE_INFINITY);
  } catch {
    throw new ExpressionError(`${fn}(): the JSON is nested deeper than ${LIMITS.jsonDepth} levels`);
  }
  return value;
};
function normaliseForCompare(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normaliseForCompare);
  if (isObject(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, normaliseForCompare(v[k])]),
    );
  return v;
}
const toText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** 13 characters of base32 over SHA-256: deterministic like ARM's, not the same values [?]. */
function uniqueString(parts: string[]): string {
  const hash = createHash('sha256').update(parts.join('-')).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  for (let i = 0; i < 13; i++) out += alphabet[hash[i]! % 32];
  return out;
}

function guid(parts: string[]): string {
  const hex = createHash('sha1').update(parts.join('-')).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** `format('{0}-{1:D3}', …)` with the .NET specifiers templates use (D n, N n, X, x). */
function format(template: string, args: unknown[]): string {
  return template.replace(
    /\{\{|\}\}|\{(\d+)(?::([A-Za-z])(\d*))?\}/g,
    (match, index: string | undefined, spec: string | undefined, width: string | undefined) => {
      if (match === '{{') return '{';
      if (match === '}}') return '}';
      const value = args[Number(index)];
      if (value === undefined) throw new ExpressionError(`format(): no argument {${index}}`);
      if (!spec) return toText(value);
      const n = Number(value);
      room('format', Number(width || 0));
      switch (spec) {
        case 'D':
        case 'd':
          return String(Math.trunc(n)).padStart(Number(width || 0), '0');
        case 'N':
        case 'n':
          return n.toLocaleString('en-US', {
            minimumFractionDigits: Number(width || 2),
            maximumFractionDigits: Number(width || 2),
          });
        case 'X':
          return n
            .toString(16)
            .toUpperCase()
            .padStart(Number(width || 0), '0');
        case 'x':
          return n.toString(16).padStart(Number(width || 0), '0');
        default:
          return toText(value);
      }
    },
  );
}

/** `resourceId([sub], [rg], 'ns/type[/child]', name[, name…])` [TPL-7]. */
function resourceId(args: unknown[], scope: FunctionScope, kind: 'group' | 'subscription' | 'tenant'): string {
  const strings = args.map((a) => str(a, 'resourceId'));
  const typeIndex = strings.findIndex((a) => a.includes('/'));
  if (typeIndex < 0)
    throw new ExpressionError('resourceId() needs a resource type such as Microsoft.IoTOperationsMQ/mq');
  const before = strings.slice(0, typeIndex);
  const type = strings[typeIndex]!;
  const names = strings.slice(typeIndex + 1).flatMap((n) => n.split('/'));
  const [namespace, ...types] = type.split('/');
  if (names.length !== types.length)
    throw new ExpressionError(`resourceId(): type '${type}' needs ${types.length} name(s), got ${names.length}`);
  const tail = `/providers/${namespace}/${types.map((t, i) => `${t}/${names[i]}`).join('/')}`;
  if (kind === 'tenant') return tail;
  const subscriptionId =
    (kind === 'group' ? (before.length === 2 ? before[0] : undefined) : before[0]) ??
    String(scope.subscription.subscriptionId);
  if (kind === 'subscription') return `/subscriptions/${subscriptionId}${tail}`;
  const group = before.length >= 1 ? before.at(-1)! : String(scope.resourceGroup.name);
  return `/subscriptions/${subscriptionId}/resourceGroups/${group}${tail}`;
}

export const FUNCTIONS: Record<string, Fn> = {
  // scope
  parameters: ([name], s) => s.parameter(str(name, 'parameters')),
  variables: ([name], s) => s.variable(str(name, 'variables')),
  resourcegroup: (_a, s) => s.resourceGroup,
  subscription: (_a, s) => s.subscription,
  tenant: (_a, s) => s.tenant,
  deployment: (_a, s) => s.deployment,
  environment: (_a, s) => s.environment,
  copyindex: (args, s) => {
    const [a, b] = args;
    if (typeof a === 'string') return s.copyIndex(a) + (b === undefined ? 0 : int(b, 'copyIndex'));
    return s.copyIndex(undefined) + (a === undefined ? 0 : int(a, 'copyIndex'));
  },
  // ids
  resourceid: (args, s) => resourceId(args, s, 'group'),
  subscriptionresourceid: (args, s) => resourceId(args, s, 'subscription'),
  tenantresourceid: (args, s) => resourceId(args, s, 'tenant'),
  extensionresourceid: ([scopeId, type, ...names]) => {
    const [namespace, ...types] = str(type, 'extensionResourceId').split('/');
    return `${str(scopeId, 'extensionResourceId')}/providers/${namespace}/${types.map((t, i) => `${t}/${String(names[i])}`).join('/')}`;
  },
  reference: ([target, apiVersion, full], s) => {
    if (!s.reference) throw new ExpressionError('reference() is only allowed in resource properties and outputs');
    return s.reference(
      str(target, 'reference'),
      apiVersion === undefined ? undefined : str(apiVersion, 'reference'),
      String(full ?? '').toLowerCase() === 'full',
    );
  },
  // strings
  concat: (args) => {
    if (args.every(Array.isArray) && args.length > 0) return (args as unknown[][]).flat();
    const parts = args.map(toText);
    room(
      'concat',
      parts.reduce((n, p) => n + p.length, 0),
    );
    return parts.join('');
  },
  format: ([template, ...args]) => format(str(template, 'format'), args),
  tolower: ([v]) => str(v, 'toLower').toLowerCase(),
  toupper: ([v]) => str(v, 'toUpper').toUpperCase(),
  trim: ([v]) => str(v, 'trim').trim(),
  replace: ([v, a, b]) => {
    const [text, from, to] = [str(v, 'replace'), str(a, 'replace'), str(b, 'replace')];
    if (from === '') return text;
    let count = 0;
    for (let at = text.indexOf(from); at >= 0; at = text.indexOf(from, at + from.length)) count++;
    room('replace', text.length + count * (to.length - from.length));
    return text.split(from).join(to);
  },
  split: ([v, d]) => {
    const delimiters = Array.isArray(d) ? d.map((x) => str(x, 'split')) : [str(d, 'split')];
    return delimiters.reduce<string[]>(
      (parts, delimiter) => parts.flatMap((p) => p.split(delimiter)),
      [str(v, 'split')],
    );
  },
  join: ([v, d]) => arr(v, 'join').map(toText).join(str(d, 'join')),
  substring: ([v, start, length]) => {
    const s = str(v, 'substring');
    const from = start === undefined ? 0 : int(start, 'substring');
    const count = length === undefined ? s.length - from : int(length, 'substring');
    if (from < 0 || count < 0 || from + count > s.length)
      throw new ExpressionError(`substring(): index out of range for '${s}'`);
    return s.substr(from, count);
  },
  indexof: ([v, x]) => str(v, 'indexOf').toLowerCase().indexOf(str(x, 'indexOf').toLowerCase()),
  lastindexof: ([v, x]) => str(v, 'lastIndexOf').toLowerCase().lastIndexOf(str(x, 'lastIndexOf').toLowerCase()),
  startswith: ([v, x]) => str(v, 'startsWith').toLowerCase().startsWith(str(x, 'startsWith').toLowerCase()),
  endswith: ([v, x]) => str(v, 'endsWith').toLowerCase().endsWith(str(x, 'endsWith').toLowerCase()),
  padleft: ([v, n, c]) => {
    room('padLeft', int(n, 'padLeft'));
    return toText(v).padStart(int(n, 'padLeft'), c === undefined ? ' ' : str(c, 'padLeft'));
  },
  string: ([v]) => toText(v),
  base64: ([v]) => Buffer.from(str(v, 'base64'), 'utf8').toString('base64'),
  base64tostring: ([v]) => Buffer.from(str(v, 'base64ToString'), 'base64').toString('utf8'),
  base64tojson: ([v]) => parsed('base64ToJson', Buffer.from(str(v, 'base64ToJson'), 'base64').toString('utf8')),
  uri: ([base, rel]) => new URL(str(rel, 'uri'), str(base, 'uri')).toString(),
  uricomponent: ([v]) => encodeURIComponent(str(v, 'uriComponent')),
  uricomponenttostring: ([v]) => decodeURIComponent(str(v, 'uriComponentToString')),
  datauri: ([v]) => `data:text/plain;charset=utf8;base64,${Buffer.from(toText(v)).toString('base64')}`,
  json: ([v]) => parsed('json', str(v, 'json')),
  uniquestring: (args) => uniqueString(args.map((a) => str(a, 'uniqueString'))),
  guid: (args) => guid(args.map((a) => str(a, 'guid'))),
  newguid: () => crypto.randomUUID(),
  utcnow: ([f]) =>
    f === undefined
      ? new Date()
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d+Z$/, 'Z')
      : new Date().toISOString(),
  // logic
  if: () => {
    throw new ExpressionError('if() is evaluated lazily');
  },
  equals: ([a, b]) => equals(a, b),
  not: ([a]) => !a,
  and: (args) => args.every(Boolean),
  or: (args) => args.some(Boolean),
  greater: ([a, b]) => (a as number) > (b as number),
  greaterorequals: ([a, b]) => (a as number) >= (b as number),
  less: ([a, b]) => (a as number) < (b as number),
  lessorequals: ([a, b]) => (a as number) <= (b as number),
  coalesce: (args) => args.find((a) => a !== null && a !== undefined) ?? null,
  bool: ([v]) => (typeof v === 'string' ? v.toLowerCase() === 'true' : Boolean(v)),
  true: () => true,
  false: () => false,
  null: () => null,
  empty: ([v]) =>
    v === null ||
    v === undefined ||
    (typeof v === 'string' || Array.isArray(v) ? v.length === 0 : isObject(v) ? Object.keys(v).length === 0 : false),
  contains: ([c, x]) =>
    typeof c === 'string'
      ? c.includes(toText(x))
      : Array.isArray(c)
        ? c.some((i) => equals(i, x))
        : isObject(c)
          ? Object.keys(c).some((k) => k.toLowerCase() === String(x).toLowerCase())
          : false,
  // numbers
  int: ([v]) => {
    const n = typeof v === 'string' ? Number.parseInt(v, 10) : Number(v);
    if (Number.isNaN(n)) throw new ExpressionError(`int(): '${String(v)}' is not a number`);
    return Math.trunc(n);
  },
  add: ([a, b]) => int(a, 'add') + int(b, 'add'),
  sub: ([a, b]) => int(a, 'sub') - int(b, 'sub'),
  mul: ([a, b]) => int(a, 'mul') * int(b, 'mul'),
  div: ([a, b]) => Math.trunc(int(a, 'div') / int(b, 'div')),
  mod: ([a, b]) => int(a, 'mod') % int(b, 'mod'),
  // A reduce, not Math.min(...list): spreading a long array overflows the stack.
  min: (args) =>
    (Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[])).reduce((a, b) => Math.min(a, b), Infinity),
  max: (args) =>
    (Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[])).reduce((a, b) => Math.max(a, b), -Infinity),
  range: ([start, count]) => {
    const [from, n] = [int(start, 'range'), int(count, 'range')];
    if (n < 0 || n > LIMITS.rangeCount)
      throw new ExpressionError(
        `range(): the count must be a non-negative integer up to ${LIMITS.rangeCount.toLocaleString('en-US')} (ARM's limit), got ${n}.`,
      );
    if (from + n > LIMITS.rangeEnd)
      throw new ExpressionError(`range(): startIndex + count must not exceed ${LIMITS.rangeEnd}.`);
    return Array.from({ length: n }, (_, i) => from + i);
  },
  // collections
  length: ([v]) => (typeof v === 'string' || Array.isArray(v) ? v.length : isObject(v) ? Object.keys(v).length : 0),
  first: ([v]) => (typeof v === 'string' ? v.slice(0, 1) : arr(v, 'first')[0]),
  last: ([v]) => (typeof v === 'string' ? v.slice(-1) : arr(v, 'last').at(-1)),
  take: ([v, n]) =>
    typeof v === 'string'
      ? v.slice(0, Math.max(0, int(n, 'take')))
      : arr(v, 'take').slice(0, Math.max(0, int(n, 'take'))),
  skip: ([v, n]) =>
    typeof v === 'string' ? v.slice(Math.max(0, int(n, 'skip'))) : arr(v, 'skip').slice(Math.max(0, int(n, 'skip'))),
  union: (args) =>
    args.every(Array.isArray)
      ? distinct((args as unknown[][]).flat())
      : Object.assign({}, ...(args as Record<string, unknown>[])),
  intersection: (args) =>
    args.every(Array.isArray)
      ? (() => {
          const others = (args as unknown[][]).slice(1).map((a) => new Set(a.map(canonical)));
          return distinct(args[0] as unknown[]).filter((v) => others.every((o) => o.has(canonical(v))));
        })()
      : Object.fromEntries(
          Object.entries(args[0] as Record<string, unknown>).filter(([k, v]) =>
            (args as Record<string, unknown>[]).every((o) => equals(o[k], v)),
          ),
        ),
  createarray: (args) => args,
  createobject: (args) => {
    const object: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i += 2) object[str(args[i], 'createObject')] = args[i + 1];
    return object;
  },
  array: ([v]) => (Array.isArray(v) ? v : [v]),
  items: ([v]) =>
    Object.keys(v as Record<string, unknown>)
      .sort((a, b) => a.localeCompare(b))
      .map((key) => ({ key, value: (v as Record<string, unknown>)[key] })),
  tryget: ([v, ...keys]) =>
    keys.reduce<unknown>(
      (o, k) =>
        o === null || o === undefined
          ? null
          : isObject(o)
            ? (o[String(k)] ?? null)
            : Array.isArray(o)
              ? (o[Number(k)] ?? null)
              : null,
      v,
    ),
  shallowmerge: ([list]) => Object.assign({}, ...arr(list, 'shallowMerge')),
};
