// Messages between the engine and the evaluator thread (evaluator.ts ⇄ evaluator-worker.ts).
import type { TemplateInput } from './template/index.js';

export type StateEntries = [string, Record<string, unknown>][];

export type EvaluatorRequest =
  | { id: number; op: 'open'; session: string; input: TemplateInput; secrets: string[] }
  | { id: number; op: 'resource' | 'nested'; session: string; index: number; states: StateEntries }
  | { id: number; op: 'outputs'; session: string; states: StateEntries }
  | { id: number; op: 'close'; session: string };

/** A template failure as ARM reports it: its code, a message with no secret in it, where in the template. */
export interface EvaluationFailure {
  code: string;
  message: string;
  path?: string;
}

export type EvaluatorReply =
  | { id: number; ok: true; result: unknown; secrets: string[] }
  | { id: number; ok: false; error: EvaluationFailure; secrets: string[] };

/** A request before it is numbered (a call the engine makes). */
export type EvaluatorCall =
  Exclude<EvaluatorRequest, { op: 'close' }> extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
