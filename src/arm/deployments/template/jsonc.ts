import { LIMITS } from './limits.js';

/**
 * JSON with `//` and `/* *\/` comments, trailing commas and bare identifier keys, as ARM accepts
 * deployment bodies: the az CLI splices the template file's raw text into the request body as
 * `…, template:<raw text>}}` — an unquoted key [RES-7]. Comments and trailing commas are blanked
 * character by character so error positions still point into the original text.
 *
 * One pass that copies unchanged runs as slices (bodies are up to 4 MB and this runs on the front
 * door's event loop), and refuses nesting deeper than LIMITS.jsonDepth: everything that walks a
 * template afterwards (evaluation, serialisation) recurses per level.
 */
export function stripJsonComments(text: string): string {
  const out: string[] = [];
  let copied = 0;
  const replace = (from: number, to: number, replacement: string) => {
    out.push(text.slice(copied, from), replacement);
    copied = to;
  };
  /** The last character outside strings, comments and whitespace: a bare key can only follow `{` or `,`. */
  let significant = '';
  let depth = 0;
  const commentEnd = (i: number): number => {
    if (text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      return end < 0 ? text.length : end;
    }
    const end = text.indexOf('*/', i + 2);
    return end < 0 ? text.length : end + 2;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      // Skip the string: to the next unescaped quote.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      i = j;
      significant = '"';
      continue;
    }
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      const end = commentEnd(i);
      replace(i, end, text.slice(i, end).replace(/[^\n]/g, ' '));
      i = end - 1;
      continue;
    }
    if (c === '{' || c === '[') {
      if (++depth > LIMITS.jsonDepth)
        throw new SyntaxError(`JSON nested deeper than ${LIMITS.jsonDepth} levels at position ${i + 1}`);
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',') {
      // A trailing comma: the next thing after whitespace and comments closes the container.
      let j = i + 1;
      for (;;) {
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] === '/' && (text[j + 1] === '/' || text[j + 1] === '*')) j = commentEnd(j);
        else break;
      }
      if (text[j] === '}' || text[j] === ']') {
        replace(i, i + 1, ' ');
        continue;
      }
    } else if ((significant === '{' || significant === ',') && /[A-Za-z_$]/.test(c)) {
      // A bare identifier used as a key gets quoted.
      const ident = /^[A-Za-z_$][\w$]*(?=\s*:)/.exec(text.slice(i, i + 256));
      if (ident) {
        replace(i, i + ident[0].length, `"${ident[0]}"`);
        i += ident[0].length - 1;
        significant = '"';
        continue;
      }
    }
    if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') significant = c;
  }
  out.push(text.slice(copied));
  return out.join('');
}

/** Parses JSON with comments; nesting beyond LIMITS.jsonDepth is a SyntaxError like any other malformed text. */
export function parseJsonc(text: string): unknown {
  return JSON.parse(stripJsonComments(text));
}
