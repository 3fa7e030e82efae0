import { ExpressionError } from './expression.js';

/**
 * How big a template may be and grow. The figures marked ARM are Azure Resource Manager's own,
 * from its template limits ("Template limits" in ARM's template best practices and the job-size
 * troubleshooting page, the copy-loop page, and the range() reference); the rest are this engine's,
 * chosen far above what Bicep emits (bicep/main.json: JSON depth 12, expression depth 5) and said so.
 */
export const LIMITS = {
  /** ARM: 256 parameters per template. */
  parameters: 256,
  /** ARM: 512 variables per template (the job-size page still says 256; the limits page says 512). */
  variables: 512,
  /** ARM: 800 resources per template, copies included. */
  resources: 800,
  /** ARM: 64 output values per template. */
  outputs: 64,
  /** ARM: a copy loop (resource, property, variable or output) counts 0 to 800. */
  copyCount: 800,
  /** ARM: 24,576 characters in one template expression. */
  expressionLength: 24_576,
  /** ARM: range() makes at most 10,000 integers, and startIndex + count stays within a 32-bit integer. */
  rangeCount: 10_000,
  rangeEnd: 2_147_483_647,
  /** ARM: the template after expansion (copies, resolved variables and parameters) stays within 4 MB… */
  expandedBytes: 4 * 1024 * 1024,
  /** ARM: …and each resource definition within 1 MB. */
  resourceBytes: 1024 * 1024,
  /**
   * Ours: no single value — a function's result — can be larger than the whole expanded template
   * may be, so strings stop at 4 MB of characters and arrays at half as many elements (each
   * serialises to at least a digit and a comma).
   */
  valueChars: 4 * 1024 * 1024,
  arrayItems: 2 * 1024 * 1024,
  /** Ours: JSON nested deeper than 128 levels is refused by the parser (Bicep's output nests ~12). */
  jsonDepth: 128,
  /** Ours: expressions nested deeper than 128 calls or indexes are refused by the parser (Bicep's: ~5). */
  expressionDepth: 128,
} as const;

const figure = (n: number) => n.toLocaleString('en-US');

/** ARM's wording for a count limit: "The number of template resources limit exceeded. Limit: '800' and actual: '801'." */
export function checkCount(what: string, actual: number, limit: number): void {
  if (actual > limit)
    throw new ExpressionError(
      `The number of template ${what} limit exceeded. Limit: '${limit}' and actual: '${actual}'.`,
    );
}

/** A copy loop's count: an integer from 0 to ARM's 800. */
export function copyCount(value: unknown, where: string): number {
  const count = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > LIMITS.copyCount)
    throw new ExpressionError(
      `The template 'copy' definition of ${where} has an invalid copy count '${String(value).slice(0, 40)}'. The copy count must be a non-negative integer value and cannot exceed '${LIMITS.copyCount}'.`,
    );
  return count;
}

/** Every function's result passes here: a string or array beyond one value's share of the 4 MB template fails. */
export function checkResult(fn: string, value: unknown): unknown {
  if (typeof value === 'string' && value.length > LIMITS.valueChars)
    throw new ExpressionError(
      `The result of ${fn}() has ${figure(value.length)} characters; a template value may have at most ${figure(LIMITS.valueChars)} (ARM's 4 MB template limit).`,
    );
  if (Array.isArray(value) && value.length > LIMITS.arrayItems)
    throw new ExpressionError(
      `The result of ${fn}() has ${figure(value.length)} elements; a template value may have at most ${figure(LIMITS.arrayItems)} (ARM's 4 MB template limit).`,
    );
  return value;
}

export class ValueTooLarge extends Error {}

/**
 * The JSON size of a value in characters, measured without recursion (values built by json() or
 * chained variables can be deeper than any stack), stopping as soon as it passes `maxChars` or
 * `maxDepth`: what may leave the evaluator is checked here before it is serialised anywhere.
 */
export function measure(value: unknown, maxChars: number, maxDepth = LIMITS.jsonDepth): number {
  let size = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    if (depth > maxDepth) throw new ValueTooLarge(`the value is nested deeper than ${maxDepth} levels`);
    if (typeof v === 'string') size += v.length + 2;
    else if (typeof v === 'number' || typeof v === 'boolean') size += String(v).length;
    else if (v === null || v === undefined) size += 4;
    else if (Array.isArray(v)) {
      size += 2 + v.length;
      for (const item of v) stack.push({ value: item, depth: depth + 1 });
    } else if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      size += 2;
      for (const [key, item] of entries) {
        size += key.length + 4;
        stack.push({ value: item, depth: depth + 1 });
      }
    }
    if (size > maxChars) throw new ValueTooLarge(`the value is larger than ${figure(maxChars)} characters`);
  }
  return size;
}

/**
 * The JSON size of what a template builds, within `limit` characters of ARM's 4 MB expanded-template
 * limit: DeploymentJobSizeExceeded (ARM's code for a job too large) beyond it.
 */
export function sized(value: unknown, limit: number, what: string, rule = "ARM's 4 MB template limit"): number {
  try {
    return measure(value, limit);
  } catch (error) {
    if (!(error instanceof ValueTooLarge)) throw error;
    throw Object.assign(new ExpressionError(`${what} is too large: ${error.message} (${rule}).`), {
      code: 'DeploymentJobSizeExceeded',
    });
  }
}
