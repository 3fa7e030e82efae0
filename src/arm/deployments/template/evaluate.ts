import { ExpressionError, isExpression, parseExpression, unescapeLiteral, type Expr } from './expression.js';
import { FUNCTIONS, type FunctionScope } from './functions.js';
import { checkResult } from './limits.js';

/** Parsed expressions by source; emptied when full so that many templates cannot grow it without end. */
const cache = new Map<string, Expr>();
const CACHE_ENTRIES = 10_000;

/** `out[key] = value` as an own property even for `__proto__`, which plain assignment turns into a prototype. */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Evaluates one template value: expressions in strings, recursively through objects and arrays. */
export function evaluateValue(value: unknown, scope: FunctionScope): unknown {
  if (typeof value === 'string') return isExpression(value) ? evaluateExpression(value, scope) : unescapeLiteral(value);
  if (Array.isArray(value)) return value.map((v) => evaluateValue(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'copy' && Array.isArray(v)) continue; // property copy loops are expanded by the caller
      setOwn(out, k, evaluateValue(v, scope));
    }
    return out;
  }
  return value;
}

export function evaluateExpression(source: string, scope: FunctionScope): unknown {
  let expr = cache.get(source);
  if (!expr) {
    expr = parseExpression(source);
    if (cache.size >= CACHE_ENTRIES) cache.clear();
    cache.set(source, expr);
  }
  const secrets = scope.secrets;
  if (!secrets) return evaluate(expr, scope);
  // A result computed from a secure parameter is itself secret [issue 11.11].
  secrets.begin();
  let tainted = false;
  try {
    const value = evaluate(expr, scope);
    tainted = secrets.end();
    if (tainted) secrets.add(value, true);
    return value;
  } catch (error) {
    if (!tainted) secrets.end();
    throw error;
  }
}

function evaluate(expr: Expr, scope: FunctionScope): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'member': {
      const target = evaluate(expr.target, scope);
      const key = evaluate(expr.property, scope);
      if (target === null || target === undefined)
        throw new ExpressionError(`cannot read '${String(key)}' of ${String(target)}`);
      if (Array.isArray(target) && typeof key === 'number') {
        if (key < 0 || key >= target.length)
          throw new ExpressionError(`index ${key} is out of range (length ${target.length})`);
        return target[key];
      }
      if (typeof target === 'object') {
        const object = target as Record<string, unknown>;
        const name = Object.keys(object).find((k) => k.toLowerCase() === String(key).toLowerCase());
        if (name === undefined)
          throw new ExpressionError(
            `the object has no property '${String(key)}' (it has: ${Object.keys(object).join(', ')})`,
          );
        return object[name];
      }
      throw new ExpressionError(`cannot read '${String(key)}' of a ${typeof target}`);
    }
    case 'call': {
      // if() evaluates only the branch it takes [TPL-3].
      if (expr.name === 'if') {
        if (expr.args.length !== 3) throw new ExpressionError('if() takes 3 arguments');
        return evaluate(expr.args[0]!, scope) ? evaluate(expr.args[1]!, scope) : evaluate(expr.args[2]!, scope);
      }
      const fn = Object.hasOwn(FUNCTIONS, expr.name) ? FUNCTIONS[expr.name] : undefined;
      if (!fn) throw new ExpressionError(`the template function '${expr.name}' is not supported`);
      const args = expr.args.map((a) => evaluate(a, scope));
      try {
        return checkResult(expr.name, fn(args, scope));
      } catch (error) {
        if (error instanceof ExpressionError) throw error;
        // A built-in's own failure (bad base64, a URI, a stack overflow on a deep value) is the template's error.
        throw new ExpressionError(`${expr.name}(): ${(error as Error).message}`, { cause: error });
      }
    }
  }
}
