// The product's CustomResourceDefinitions as the Helm chart ships them (extension/chart/crds, generated
// from specs/), read from disk so the local cluster enforces exactly the schemas a real cluster would.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './types.js';

/** extension/chart/crds, looked up from this file in the source tree or in dist/. */
export function chartCrdDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'chart', 'crds');
    if (existsSync(candidate)) return candidate;
    const fromRoot = path.join(dir, 'extension', 'chart', 'crds');
    if (existsSync(fromRoot)) return fromRoot;
    dir = path.dirname(dir);
  }
  return undefined;
}

export function loadChartCrds(dir = chartCrdDir()): KubeObject[] {
  if (!dir) return [];
  const crds: KubeObject[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      const object = doc.toJS() as KubeObject | null;
      if (object?.kind === 'CustomResourceDefinition') crds.push(object);
    }
  }
  return crds;
}
