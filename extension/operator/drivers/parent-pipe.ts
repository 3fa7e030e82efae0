// A workload the local driver starts must not outlive the driver's process, however that ends —
// kill -9 and crashes included, where no cleanup code runs. The driver gives each child the read end
// of a pipe as its stdin and never writes to it; only the kernel closes the write end, when the
// driver's process is gone, and the child reads EOF. The child then stops as on SIGTERM, and exits
// hard if that takes longer than a grace period. (A child too stuck to read its EOF is reclaimed by
// the next start through its pid record: owned-processes.ts.)

/** Set in a child's environment by the driver: its stdin is the parent pipe. */
export const PARENT_PIPE_ENV = 'IOTMQ_PARENT_PIPE';

/** How long a child whose parent is gone may take to stop before it exits regardless. */
const GRACE_MS = 5_000;

/** Child side: when stdin is the parent pipe, the parent's end closing stops this process. Call once, early. */
export function exitWithParent(env: NodeJS.ProcessEnv = process.env): void {
  if (env[PARENT_PIPE_ENV] !== 'stdin') return;
  delete env[PARENT_PIPE_ENV]; // a process this one starts has its own stdin, not our parent's pipe
  const stdin = process.stdin;
  const parentGone = () => {
    process.stderr.write('iotmq: the process that started this one is gone; stopping\n');
    setTimeout(() => process.exit(1), GRACE_MS).unref();
    // the command's own SIGTERM handling stops it cleanly (or, before it is set up, ends it at once)
    process.kill(process.pid, 'SIGTERM');
  };
  stdin.once('end', parentGone);
  stdin.once('error', parentGone);
  stdin.on('data', () => {}); // nothing is ever written; reading is what lets EOF arrive
  // The pipe alone must not keep the process alive once its command is done.
  (stdin as NodeJS.ReadStream & { unref?: () => void }).unref?.();
}
