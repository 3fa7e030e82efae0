import { LIMITS } from './limits.js';

/**
 * The ARM template expression language [TPL-3]: `[fn(arg, 'str', 1).prop['key'][0]]`. A string
 * value that starts with `[` and ends with `]` is an expression; `[[` escapes a literal `[`.
 */
export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'member'; target: Expr; property: Expr };

export class ExpressionError extends Error {
  /** Where in the template, as ARM's TemplateViolation path (`resources[2]`, `parameters.x`), once known. */
  path?: string;
}

/** Runs `fn`; an ExpressionError from it without a path gets `path` (the innermost caller sets it first). */
export function atPath<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ExpressionError && error.path === undefined) error.path = path;
    throw error;
  }
}

/** A long expression quoted in a message: its start and end, not all 24,576 characters. */
function excerpt(source: string): string {
  return source.length <= 200 ? source : `${source.slice(0, 100)}…${source.slice(-60)}`;
}

export function isExpression(value: string): boolean {
  return value.startsWith('[') && value.endsWith(']') && !value.startsWith('[[');
}

/** A string value of a template: an expression, or a literal (with `[[` unescaped). */
export function unescapeLiteral(value: string): string {
  return value.startsWith('[[') ? value.slice(1) : value;
}

export function parseExpression(source: string): Expr {
  if (source.length > LIMITS.expressionLength)
    throw new ExpressionError(
      `The template language expression is ${source.length.toLocaleString('en-US')} characters long; ARM allows at most ${LIMITS.expressionLength.toLocaleString('en-US')}.`,
    );
  const text = source.slice(1, -1);
  let pos = 0;
  let depth = 0;
  const fail = (message: string): never => {
    throw new ExpressionError(`${message} at position ${pos + 1} of '${excerpt(source)}'`);
  };
  /** Calls and indexes nest by recursion here and in the evaluator: bounded before either runs out of stack. */
  const nested = <T>(parse: () => T): T => {
    if (++depth > LIMITS.expressionDepth) fail(`expressions may nest at most ${LIMITS.expressionDepth} levels deep`);
    const result = parse();
    depth--;
    return result;
  };
  const space = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const expect = (c: string) => {
    space();
    if (text[pos] !== c) fail(`expected '${c}'`);
    pos++;
  };

  const primary = (): Expr => {
    space();
    const c = text[pos];
    if (c === "'") {
      let value = '';
      pos++;
      for (;;) {
        if (pos >= text.length) fail('unterminated string');
        if (text[pos] === "'") {
          if (text[pos + 1] === "'") {
            value += "'";
            pos += 2;
            continue;
          }
          pos++;
          break;
        }
        value += text[pos++];
      }
      return { kind: 'literal', value };
    }
    const number = /^-?\d+(\.\d+)?/.exec(text.slice(pos));
    if (number) {
      pos += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    const ident = /^[A-Za-z_][\w.]*?(?=\s*\()/.exec(text.slice(pos)) ?? /^[A-Za-z_]\w*/.exec(text.slice(pos));
    if (!ident) return fail('expected a function call or literal');
    pos += ident[0].length;
    space();
    if (text[pos] !== '(') return fail(`'${ident[0]}' must be called`);
    pos++;
    const args: Expr[] = [];
    space();
    if (text[pos] === ')') pos++;
    else {
      for (;;) {
        args.push(nested(postfix));
        space();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(')');
        break;
      }
    }
    return { kind: 'call', name: ident[0].toLowerCase(), args };
  };

  const postfix = (): Expr => {
    let expr = primary();
    for (;;) {
      space();
      if (text[pos] === '.') {
        pos++;
        const name = /^[A-Za-z_$][\w$-]*/.exec(text.slice(pos));
        if (!name) fail('expected a property name');
        pos += name![0].length;
        expr = { kind: 'member', target: expr, property: { kind: 'literal', value: name![0] } };
      } else if (text[pos] === '[') {
        pos++;
        const property = nested(postfix);
        expect(']');
        expr = { kind: 'member', target: expr, property };
      } else return expr;
    }
  };

  const expr = postfix();
  space();
  if (pos !== text.length) fail('unexpected text');
  return expr;
}
