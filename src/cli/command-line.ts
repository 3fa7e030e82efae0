// One description per command — its options (type, default, value placeholder, help) and examples —
// from which both the parser (node:util parseArgs) and the `--help` text are made, so a flag cannot be
// accepted without being documented, or documented without being accepted.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string;
  /** The value's placeholder in the help text (FILE, PORT …); string options only. */
  value?: string;
  /** One or more lines; the default, when there is one, is added by the help text. */
  help: string;
}

export interface CommandSpec {
  name: string;
  /** One line, for `iotmq --help`. */
  summary: string;
  /** What follows `iotmq <name>` in the usage line. */
  synopsis: string;
  description: string;
  options: Record<string, OptionSpec>;
  examples: string[];
}

/** A command line that cannot be run: the message says what is wrong and where to look (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'this text' };

/** `--help` or `-h` before any `--`. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/**
 * The command's flags, checked (unknown or malformed ones are a UsageError naming `--help`).
 * `options` is the spec's own table, passed as a literal type so the values come out typed.
 */
export function parseCommandLine<const O extends CommandSpec['options']>(
  spec: Pick<CommandSpec, 'name'> & { options: O },
  args: string[],
) {
  try {
    return parseArgs({ args, options: spec.options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const reason = (error as Error).message.split('. ')[0];
    throw new UsageError(`iotmq ${spec.name}: ${reason} (see iotmq ${spec.name} --help)`, { cause: error });
  }
}

export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, help: HELP_OPTION }).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : ''}--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
    const help = option.default === undefined ? option.help : `${option.help} (default ${option.default})`;
    return [flag, help.split('\n')] as const;
  });
  const width = Math.min(30, Math.max(...rows.map(([flag]) => flag.length)) + 2);
  const lines = rows.flatMap(([flag, [first, ...rest]]) => [
    flag.length < width ? `  ${flag.padEnd(width)}${first}` : `  ${flag}\n  ${' '.repeat(width)}${first}`,
    ...rest.map((line) => `  ${' '.repeat(width)}${line}`),
  ]);
  return [
    `usage: iotmq ${spec.name} ${spec.synopsis}`,
    '',
    spec.description,
    '',
    'Options:',
    ...lines,
    '',
    spec.examples.length > 1 ? 'Examples:' : 'Example:',
    ...spec.examples.map((example) => `  ${example}`),
    '',
  ].join('\n');
}

export function overallHelp(commands: Record<string, CommandSpec>): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length)) + 3;
  return [
    'usage: iotmq <command> [options]',
    '',
    'iotmq: an open implementation of Azure IoT MQ — the resource provider, the Arc extension',
    '(agent, operator) and the MQTT broker.',
    '',
    'Commands:',
    ...Object.values(commands).map((spec) => `  ${spec.name.padEnd(width)}${spec.summary}`),
    '',
    "Run 'iotmq <command> --help' for a command's options and examples.",
    '',
  ].join('\n');
}
