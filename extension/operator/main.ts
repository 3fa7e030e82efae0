export async function runOperator(_args: string[]): Promise<void> {
  throw new Error('iotmq operator: not wired yet');
}
