import { ExpressionError, isExpression, parseExpression, unescapeLiteral, type Expr } from './expression.js';
import { FUNCTIONS, type FunctionScope } from './functions.js';

const cache = new Map<string, Expr>();

/** Evaluates one template value: expressions in strings, recursively through objects and arrays. */
export function evaluateValue(value: unknown, scope: FunctionScope): unknown {
  if (typeof value === 'string') return isExpression(value) ? evaluateExpression(value, scope) : unescapeLiteral(value);
  if (Array.isArray(value)) return value.map((v) => evaluateValue(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'copy' && Array.isArray(v)) continue; // property copy loops are expanded by the caller
      out[k] = evaluateValue(v, scope);
    }
    return out;
  }
  return value;
}

export function evaluateExpression(source: string, scope: FunctionScope): unknown {
  let expr = cache.get(source);
  if (!expr) {
    expr = parseExpression(source);
    cache.set(source, expr);
  }
  return evaluate(expr, scope);
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
      const fn = FUNCTIONS[expr.name];
      if (!fn) throw new ExpressionError(`the template function '${expr.name}' is not supported`);
      return fn(
        expr.args.map((a) => evaluate(a, scope)),
        scope,
      );
    }
  }
}
