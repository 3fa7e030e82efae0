// helm for tests: ./helm.sh builds it once from the Go module proxy (cached under ~/.cache/iotmq/helm)
// and prints its path; run() calls it and returns what it printed.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
/** First build on 2 cores: several minutes. */
export const HELM_BUILD_TIMEOUT_MS = 30 * 60_000;

export async function ensureHelm(): Promise<string> {
  const child = spawn('bash', [join(here, 'helm.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0)
    throw new Error(`test/peers/helm.sh failed (exit ${code}):\n${err.split('\n').slice(-40).join('\n')}`);
  return out.trim().split('\n').pop()!;
}

// lint and template need no repositories or plugins: keep helm away from the user's own config.
const HELM_HOMES = {
  HELM_CACHE_HOME: join(tmpdir(), 'iotmq-helm', 'cache'),
  HELM_CONFIG_HOME: join(tmpdir(), 'iotmq-helm', 'config'),
  HELM_DATA_HOME: join(tmpdir(), 'iotmq-helm', 'data'),
};

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runHelm(helm: string, args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(helm, args, {
      maxBuffer: 32 * 1024 * 1024,
      env: { ...process.env, ...HELM_HOMES },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}
