// Code and tests cite ARM rules by id (`[PUT-5]`, `[DEL-2, DEL-4]`, `[SHAPE-3..5]`, `[AUTH-4 jwt]`).
// Every id they cite must be a rule in docs/arm-rpc-rules.md, so that a reader can look it up and the
// document cannot fall behind the code.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/common/paths.js';

const SCANNED = ['src', 'extension', 'test', 'bench', 'scripts'];
const rulesFile = path.join(packageRoot, 'docs/arm-rpc-rules.md');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|sh)$/.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => path.join(e.parentPath, e.name));
}

/**
 * Rule ids in one bracket group: `ID-8`, `ID-8 FD` (a qualifier), `SHAPE-3..5` and `AUTH-3/4` (several
 * rules of one family), lists separated by commas. MQTT's own statement numbers (`MQTT-3.1.0-1`) are
 * not ARM rules and do not match.
 */
function ruleIds(group: string): string[] {
  const ids: string[] = [];
  for (const item of group.split(',').map((s) => s.trim())) {
    const match = /^([A-Z]+)-(\d+)(?:(?:\.\.|\/)(\d+))?(?: [A-Za-z]+)?$/.exec(item);
    if (!match) return []; // not a group of rule ids (e.g. an array index or another spec's numbering)
    const [, family, first, last] = match;
    for (let n = Number(first); n <= Number(last ?? first); n++) ids.push(`${family}-${n}`);
  }
  return ids;
}

function citedIds(): Map<string, string> {
  const cited = new Map<string, string>(); // id → first file citing it
  for (const root of SCANNED) {
    for (const file of sourceFiles(path.join(packageRoot, root))) {
      for (const [, group] of readFileSync(file, 'utf8').matchAll(/\[([A-Z][^\]\n]{2,60})\]/g)) {
        for (const id of ruleIds(group!)) if (!cited.has(id)) cited.set(id, path.relative(packageRoot, file));
      }
    }
  }
  return cited;
}

describe('docs/arm-rpc-rules.md', () => {
  const rules = new Set([...readFileSync(rulesFile, 'utf8').matchAll(/^\| ([A-Z]+-\d+) \|/gm)].map(([, id]) => id!));

  it('reads bracket groups as the code writes them', () => {
    expect(ruleIds('PUT-1, PUT-8, SHAPE-3..5')).toEqual(['PUT-1', 'PUT-8', 'SHAPE-3', 'SHAPE-4', 'SHAPE-5']);
    expect(ruleIds('AUTH-3/4')).toEqual(['AUTH-3', 'AUTH-4']);
    expect(ruleIds('AUTH-4 jwt')).toEqual(['AUTH-4']);
    expect(ruleIds('MQTT-3.1.0-1')).toEqual([]);
    expect(ruleIds('issue 11.2')).toEqual([]);
  });

  it('has one line per rule id', () => {
    const lines = [...readFileSync(rulesFile, 'utf8').matchAll(/^\| ([A-Z]+-\d+) \|/gm)].map(([, id]) => id);
    expect(lines.length).toBeGreaterThan(100);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('defines every rule id that code and tests cite', () => {
    const cited = citedIds();
    expect(cited.size).toBeGreaterThan(50);
    const missing = [...cited].filter(([id]) => !rules.has(id)).map(([id, file]) => `${id} (cited in ${file})`);
    expect(missing).toEqual([]);
  });

  it('names test files that exist', () => {
    const text = readFileSync(rulesFile, 'utf8');
    const files = new Set([...text.matchAll(/\b((?:unit|integration|e2e)\/[\w/.-]+\.ts)\b/g)].map(([, f]) => f!));
    expect(files.size).toBeGreaterThan(10);
    for (const file of files) expect(() => readFileSync(path.join(packageRoot, 'test', file)), file).not.toThrow();
  });
});
