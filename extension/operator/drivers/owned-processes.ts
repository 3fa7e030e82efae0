// Pid records of the local driver's children: `<dir>/run/<name>.pid`, written when a child starts and
// removed when it exits. A record left behind means the driver's process died without stopping its
// child; if that child still runs (stuck, or stopped, so it never read the parent pipe's EOF), the
// next start reclaims it before taking its ports. A pid alone is not proof: pids are reused, so a
// process is ours only if its start time and command line are the recorded ones (Linux /proc; where
// there is none, nothing is killed and the parent pipe is the only guard).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface ProcessIdentity {
  /** Clock ticks after boot at which the process started (/proc/<pid>/stat, field 22). */
  startTime: string;
  command: string[];
}

interface PidRecord extends ProcessIdentity {
  pid: number;
}

/** What the OS says of a pid now: undefined when there is no such (live) process or no /proc. */
function identify(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "pid (comm)": state is field 3, starttime field 22; comm may hold spaces and ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, only not reaped yet
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    return { startTime: fields[19]!, command };
  } catch {
    return undefined;
  }
}

const recordFile = (runDir: string, name: string) => path.join(runDir, `${name}.pid`);

/** Notes a started child (its pid and who it is), mode 0600. */
export function recordProcess(runDir: string, name: string, pid: number): void {
  const identity = identify(pid);
  if (!identity) return; // exited already, or no /proc: nothing could be verified later anyway
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(recordFile(runDir, name), JSON.stringify({ pid, ...identity } satisfies PidRecord), { mode: 0o600 });
}

/** Drops the record of a child that exited (only if it still names that child). */
export function forgetProcess(runDir: string, name: string, pid: number | undefined): void {
  const file = recordFile(runDir, name);
  if (readRecord(file)?.pid === pid) rmSync(file, { force: true });
}

function readRecord(file: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<PidRecord>;
    return Number.isInteger(record.pid) && typeof record.startTime === 'string' && Array.isArray(record.command)
      ? (record as PidRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ends the recorded process if it is still the one recorded: SIGTERM, SIGKILL after `graceMs`, and
 * waits until it is gone. Removes the record either way. Resolves to whether something was killed.
 */
export async function reclaimProcess(runDir: string, name: string, graceMs = 3_000): Promise<boolean> {
  const file = recordFile(runDir, name);
  const record = readRecord(file);
  const ours = () => {
    const now = record && identify(record.pid);
    return (
      now !== undefined &&
      now.startTime === record!.startTime &&
      now.command.length === record!.command.length &&
      now.command.every((arg, i) => arg === record!.command[i])
    );
  };
  let killed = false;
  if (record && ours()) {
    killed = true;
    signal(record.pid, 'SIGTERM');
    signal(record.pid, 'SIGCONT'); // a stopped process cannot act on SIGTERM
    const deadline = Date.now() + graceMs;
    while (ours() && Date.now() < deadline) await sleep(25);
    if (ours()) signal(record.pid, 'SIGKILL');
    // SIGKILL cannot be refused; only a process stuck in the kernel may take a moment more
    const killDeadline = Date.now() + graceMs;
    while (ours() && Date.now() < killDeadline) await sleep(10);
  }
  rmSync(file, { force: true });
  return killed;
}

/** Reclaims every recorded child under `runDir` (at the start of a driver on the same directory). */
export async function reclaimProcesses(runDir: string, graceMs?: number): Promise<string[]> {
  if (!existsSync(runDir)) return [];
  const names = readdirSync(runDir)
    .filter((file) => file.endsWith('.pid'))
    .map((file) => file.slice(0, -'.pid'.length));
  const killed = await Promise.all(names.map((name) => reclaimProcess(runDir, name, graceMs)));
  return names.filter((_, i) => killed[i]);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone in between
  }
}
