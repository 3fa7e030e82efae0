/**
 * Line and column (1-based) of the value at `path` (`properties.template.resources[2]`) in a request
 * body of JSON with comments, trailing commas and bare keys (what the az CLI sends [RES-7]), for
 * TemplateViolation's lineNumber/linePosition [TPL-9]. A small scanner rather than a parser with
 * positions: it only has to walk to one value. Undefined when the path is not in the text.
 */
export function locate(text: string, path: string): { lineNumber: number; linePosition: number } | undefined {
  const steps = [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
  let pos = 0;
  const space = () => {
    for (;;) {
      while (pos < text.length && /\s/.test(text[pos]!)) pos++;
      if (text.startsWith('//', pos)) pos = text.indexOf('\n', pos) < 0 ? text.length : text.indexOf('\n', pos);
      else if (text.startsWith('/*', pos))
        pos = text.indexOf('*/', pos) < 0 ? text.length : text.indexOf('*/', pos) + 2;
      else return;
    }
  };
  const string = (): string => {
    let out = '';
    pos++; // opening quote
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\') pos++;
      out += text[pos++];
    }
    pos++;
    return out;
  };
  /** Skips one value starting at pos. */
  const skip = (): void => {
    space();
    const c = text[pos];
    if (c === '"') return void string();
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      pos++;
      for (;;) {
        space();
        if (text[pos] === close || pos >= text.length) return void pos++;
        if (c === '{') {
          key();
          space();
          pos++; // ':'
        }
        skip();
        space();
        if (text[pos] === ',') pos++;
      }
    }
    while (pos < text.length && !/[\s,}\]]/.test(text[pos]!)) pos++;
  };
  const key = (): string => {
    space();
    if (text[pos] === '"') return string();
    const start = pos;
    while (pos < text.length && /[\w$]/.test(text[pos]!)) pos++;
    return text.slice(start, pos);
  };
  /** Moves pos onto the member `step` of the object or array at pos; false if absent. */
  const enter = (step: string | number): boolean => {
    space();
    const c = text[pos];
    if ((typeof step === 'number' && c !== '[') || (typeof step === 'string' && c !== '{')) return false;
    pos++;
    for (let index = 0; ; index++) {
      space();
      if (pos >= text.length || text[pos] === '}' || text[pos] === ']') return false;
      if (typeof step === 'string') {
        const name = key();
        space();
        pos++; // ':'
        if (name.toLowerCase() === step.toLowerCase()) return true;
      } else if (index === step) return true;
      skip();
      space();
      if (text[pos] === ',') pos++;
    }
  };
  for (const step of steps) if (!enter(step)) return undefined;
  space();
  const before = text.slice(0, pos).split('\n');
  return { lineNumber: before.length, linePosition: before.at(-1)!.length + 1 };
}
