import { compile, formatDiagnostic, NodeHost, resolveCompilerOptions, type Diagnostic } from '@typespec/compiler';
import path from 'node:path';

export const SPECS_DIR = path.resolve(import.meta.dirname, '../../specs');

export class SpecCompileError extends Error {}

export interface CompileResult {
  /** Linter and compiler warnings, formatted like `tsp compile` prints them. */
  warnings: string[];
}

/**
 * Runs the TypeSpec compiler on specs/main.tsp with specs/tspconfig.yaml, emitting with the
 * given emitters under `outputDir` (the tspconfig's `output-dir`). Errors fail with the
 * compiler's own messages; warnings are returned so a test can hold them to specs/README.md.
 */
export async function compileSpecs(outputDir: string, emit: string[], sourceDir = SPECS_DIR): Promise<CompileResult> {
  const entrypoint = path.join(sourceDir, 'main.tsp');
  const [options, configDiagnostics] = await resolveCompilerOptions(NodeHost, {
    entrypoint,
    configPath: path.join(sourceDir, 'tspconfig.yaml'),
    cwd: sourceDir,
    overrides: { outputDir, emit },
  });
  throwOnErrors(configDiagnostics, sourceDir);
  const program = await compile(NodeHost, entrypoint, options);
  throwOnErrors(program.diagnostics, sourceDir);
  return {
    warnings: program.diagnostics.filter((d) => d.severity === 'warning').map((d) => format(d, sourceDir)),
  };
}

function throwOnErrors(diagnostics: readonly Diagnostic[], sourceDir: string): void {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new SpecCompileError(`TypeSpec compilation failed:\n${errors.map((d) => format(d, sourceDir)).join('\n')}`);
  }
}

function format(diagnostic: Diagnostic, sourceDir: string): string {
  return formatDiagnostic(diagnostic, { pretty: false, pathRelativeTo: sourceDir });
}
