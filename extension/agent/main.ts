export async function runAgent(_args: string[]): Promise<void> {
  throw new Error('iotmq agent: not wired yet');
}
