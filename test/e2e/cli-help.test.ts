// `iotmq --help` and `iotmq <command> --help` as a user types them: the list of commands, and for
// every command it lists a usage line, each option the command accepts, and an example — exit 0.
// An unknown command or option says where to look instead.
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { runCli } from '../support/cli.js';

describe('iotmq --help', () => {
  it('lists the commands; each answers --help with its options and an example', async () => {
    const top = await runCli(['--help']);
    expect(top.code, top.output).toBe(0);
    const listed = [...top.output.split('Commands:')[1]!.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((m) => m[1]!);
    expect(listed).toEqual(expect.arrayContaining(['dev', 'rp', 'agent', 'operator', 'broker']));
    expect(listed.sort()).toEqual(Object.keys(COMMANDS).sort());

    const helps = await Promise.all(listed.map((name) => runCli([name, '--help'])));
    listed.forEach((name, i) => {
      const { code, output } = helps[i]!;
      expect(code, output).toBe(0);
      expect(output).toMatch(new RegExp(`^usage: iotmq ${name}\\b`));
      expect(output).toContain('Options:');
      for (const option of Object.keys(COMMANDS[name]!.options))
        expect(output, name).toMatch(new RegExp(`--${option}\\b`));
      expect(output).toMatch(new RegExp(`Examples?:\\n {2}iotmq ${name}\\b`));
    });
  });

  it('-h works too; an unknown command or option exits 2 and points at --help', async () => {
    const [short, command, option] = await Promise.all([
      runCli(['dev', '-h']),
      runCli(['nonsense']),
      runCli(['dev', '--no-such-flag']),
    ]);
    expect(short.code).toBe(0);
    expect(short.output).toContain('--mqtt-port');
    expect(command.code).toBe(2);
    expect(command.output).toMatch(/unknown command 'nonsense'.*iotmq --help/);
    expect(option.code).toBe(2);
    expect(option.output).toMatch(/--no-such-flag.*iotmq dev --help/);
  });
});
