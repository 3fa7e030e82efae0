import { LIMITS } from './limits.js';

/**
 * JSON with `//` and `/* *\/` comments, trailing commas and bare identifier keys, as ARM accepts
 * deployment bodies: the az CLI splices the template file's raw text into the request body as
 * `…, template:<raw text>}}` — an unquoted key [RES-7]. Comments are blanked character by
 * character so error positions still point into the original text.
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += next ?? '';
        i++;
      } else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
      out += '\n';
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) out += text[i] === '\n' ? '\n' : ' ';
      i--;
    } else out += c;
  }
  // Trailing commas before } or ] (outside strings: strings were copied verbatim above, so
  // re-scan respecting them).
  return removeTrailingCommas(out);
}

function removeTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  /** The last character outside strings and whitespace: a key can only follow `{` or `,`. */
  let significant = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') {
        inString = false;
        significant = c;
      }
      continue;
    }
    if (c === '"') inString = true;
    if (c === '{' || c === '[') {
      // Everything that walks a template afterwards (evaluation, serialisation) recurses per level.
      if (++depth > LIMITS.jsonDepth)
        throw new SyntaxError(`JSON nested deeper than ${LIMITS.jsonDepth} levels at position ${i + 1}`);
    } else if (c === '}' || c === ']') depth--;
    // A bare identifier used as a key (after `{` or `,`) gets quoted.
    if (/[A-Za-z_$]/.test(c) && (significant === '{' || significant === ',')) {
      const ident = /^[A-Za-z_$][\w$]*(?=\s*:)/.exec(text.slice(i, i + 256));
      if (ident) {
        out += `"${ident[0]}"`;
        i += ident[0].length - 1;
        significant = '"';
        continue;
      }
    }
    if (c === ',') {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === '}' || text[j] === ']') {
        out += ' ';
        continue;
      }
    }
    if (!/\s/.test(c)) significant = c;
    out += c;
  }
  return out;
}

/** Parses JSON with comments; nesting beyond LIMITS.jsonDepth is a SyntaxError like any other malformed text. */
export function parseJsonc(text: string): unknown {
  return JSON.parse(stripJsonComments(text));
}
