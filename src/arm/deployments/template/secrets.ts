/**
 * What a deployment must never print: the values of its secureString and secureObject parameters
 * and every string an expression derived from them (`toLower(parameters('pwd'))` is as secret as the
 * password). Values are marked when parameters are bound and while expressions evaluate (an
 * expression that read a secure parameter, directly or through a variable, marks its result); every
 * message, operation and output a deployment writes passes through `redact`, so a secret that comes
 * back inside an RP's error message ("The provided location '…'") is hidden too.
 */
export class Secrets {
  /** Shorter strings are not searched for: hiding them would blank those letters in every message. */
  static readonly MIN_LENGTH = 3;
  static readonly MASK = '***';
  private readonly values = new Set<string>();
  /** One flag per expression being evaluated (they nest through variables): did it read a secret? */
  private readonly frames: boolean[] = [];
  private pattern: RegExp | undefined;

  constructor(values: Iterable<string> = []) {
    for (const value of values) this.addString(value);
  }

  /**
   * Marks every string inside `value` as secret — and its numbers when it is a secure value itself;
   * numbers an expression derived from one (a `length()`, a `range()`) are not secrets, and hiding
   * them would blank those digits in every message.
   */
  add(value: unknown, derived = false): void {
    const stack = [value];
    while (stack.length > 0) {
      const v = stack.pop();
      if (typeof v === 'string') this.addString(v);
      else if (!derived && typeof v === 'number') this.addString(String(v));
      else if (Array.isArray(v)) for (const item of v) stack.push(item);
      else if (v && typeof v === 'object') for (const item of Object.values(v)) stack.push(item);
    }
  }

  list(): string[] {
    return [...this.values];
  }

  /** Adds what another evaluation learnt (the evaluator thread reports the secrets it found). */
  merge(values: Iterable<string>): void {
    for (const value of values) this.addString(value);
  }

  begin(): void {
    this.frames.push(false);
  }

  /** A secure value was read: every expression being evaluated now derives from it. */
  touch(): void {
    this.frames.fill(true);
  }

  /** Ends the innermost expression; true when it read a secret. */
  end(): boolean {
    return this.frames.pop() ?? false;
  }

  redact(text: string): string {
    if (this.values.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'gi',
    );
    return text.replace(this.pattern, Secrets.MASK);
  }

  /** A copy of `value` with every string redacted (keys included). */
  redactValue<T>(value: T): T {
    if (this.values.size === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object')
        return Object.fromEntries(Object.entries(v).map(([k, item]) => [this.redact(k), walk(item)]));
      return v;
    };
    return walk(value) as T;
  }

  private addString(value: string): void {
    if (value.length < Secrets.MIN_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    // As it appears inside a JSON string (an RP may quote the value it refuses).
    const quoted = JSON.stringify(value).slice(1, -1);
    if (quoted !== value) this.values.add(quoted);
    this.pattern = undefined;
  }
}
