// Long-running commands stop cleanly on SIGINT/SIGTERM (what Kubernetes sends before SIGKILL).
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
