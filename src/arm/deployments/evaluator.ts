import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { EvaluationFailure, EvaluatorCall, EvaluatorReply, EvaluatorRequest } from './evaluator-protocol.js';
import { Secrets, type PlanEntry, type States, type TemplateInput } from './template/index.js';

/**
 * Template evaluation runs on worker threads, never on the front door's event loop.
 *
 * Why a thread and not evaluation in slices on the main loop: a slice bounds time but not memory,
 * and it only works if every built-in function is itself bounded — one `string()` of a large value,
 * one `json()` or a quadratic `union()` is still a single uninterruptible step. A worker thread has a
 * heap of its own capped by `resourceLimits` (running out ends that thread, not the process) and can
 * be ended at any instant when its time budget is spent, whatever it is doing. ARM's own limits
 * (template/limits.ts) still give the precise errors; the thread is what makes the rest harmless.
 *
 * A small pool serves every deployment: each session (one template being deployed or validated)
 * stays on one thread; if that thread is ended (its own budget, or another session's), the session
 * is replayed on the new thread from its input and resolved parameters. Calls to a thread run one at
 * a time, and each tree of sessions (a deployment and its nested ones) shares one time budget, so a
 * heavy template costs others at most one wait.
 */
const POOL_SIZE = 2;
// The worker's entry is loaded by URL, never imported: this type-only reference keeps it in every
// compilation that includes this file (the bench compiles only what its entry point reaches).
export type { EvaluatorEntry } from './evaluator-worker.js';
/** Evaluation time one deployment (with its nested deployments) may use in all. */
export const EVALUATION_BUDGET_MS = 10_000;
/** Heap of one evaluator thread; values are at most 4 MB each (ARM's template limit), so this is roomy. */
const HEAP_MB = 256;

export class EvaluationError extends Error {
  readonly code: string;
  readonly path?: string;
  constructor(failure: EvaluationFailure) {
    super(failure.message);
    this.name = 'EvaluationError';
    this.code = failure.code;
    this.path = failure.path;
  }
}

export interface EvaluatorSession {
  /** The deployment's properties shared by PUT, GET and validate (no secret in them). */
  summary: Record<string, unknown>;
  plan: PlanEntry[];
  /** Every secret of this deployment and its parents, growing as evaluation finds derived ones. */
  secrets: Secrets;
  /** A resource's body for its RP, and its JSON size. */
  resource(index: number, states: States): Promise<Record<string, unknown>>;
  /** A nested deployment's inputs, evaluated in this template's scope. */
  nested(
    index: number,
    states: States,
  ): Promise<{ mode: string; parameters: Record<string, { value?: unknown }>; template: unknown }>;
  /** The outputs (already redacted). */
  outputs(states: States): Promise<Record<string, unknown>>;
  /** Frees the session on its thread. */
  close(): void;
}

interface SessionState {
  id: string;
  input: TemplateInput;
  secrets: Secrets;
  budget: { remainingMs: number };
  slot: Slot;
  /** States already sent to the thread (the engine's map only grows). */
  statesSent: number;
}

class Slot {
  private worker: Worker | undefined;
  private readonly sessions = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private pending: { id: number; settle: (reply: EvaluatorReply | Error) => void } | undefined;
  private nextId = 1;
  /** Sessions waiting or running here: new sessions go to the least busy slot. */
  load = 0;

  /** Runs `work` after every earlier call on this slot. */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Sends one request; the reply, or an EvaluationError when the thread is ended (budget, memory). */
  async send(request: EvaluatorCall, state: SessionState): Promise<unknown> {
    if (state.budget.remainingMs <= 0) throw budgetSpent();
    const worker = this.start();
    const id = this.nextId++;
    const started = performance.now();
    const reply = await new Promise<EvaluatorReply | Error>((settle) => {
      const timer = setTimeout(
        () => {
          this.end();
          settle(budgetSpent());
        },
        Math.max(0, state.budget.remainingMs),
      );
      this.pending = {
        id,
        settle: (value) => {
          clearTimeout(timer);
          settle(value);
        },
      };
      worker.postMessage({ ...request, id });
    });
    this.pending = undefined;
    state.budget.remainingMs -= performance.now() - started;
    if (reply instanceof Error) throw reply;
    state.secrets.merge(reply.secrets);
    if (!reply.ok) throw new EvaluationError(reply.error);
    return reply.result;
  }

  has(session: string): boolean {
    return this.worker !== undefined && this.sessions.has(session);
  }

  opened(session: string): void {
    this.sessions.add(session);
  }

  forget(session: string): void {
    this.sessions.delete(session);
  }

  close(session: string): void {
    this.sessions.delete(session);
    this.worker?.postMessage({ id: 0, op: 'close', session } satisfies EvaluatorRequest);
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = createWorker();
    worker.on('message', (reply: EvaluatorReply) => {
      if (this.pending?.id === reply.id) this.pending.settle(reply);
    });
    const fail = (error: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.sessions.clear();
      this.pending?.settle(
        new EvaluationError(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? {
                code: 'InvalidTemplate',
                message: `Evaluating the template's expressions needed more than ${HEAP_MB} MB of memory. Use fewer or smaller copy loops, ranges and string operations.`,
              }
            : { code: 'InternalServerError', message: `The template evaluator stopped: ${error.message}` },
        ),
      );
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(Object.assign(new Error(`exit code ${code}`), { code: 'EXIT' })));
    // An idle evaluator must not keep the process alive (after the listeners: adding one refs the port again).
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Ends the thread (a call overran its budget); the next call starts a new one. */
  private end(): void {
    const worker = this.worker;
    this.worker = undefined;
    this.sessions.clear();
    void worker?.terminate();
  }
}

const budgetSpent = () =>
  new EvaluationError({
    code: 'InvalidTemplate',
    message: `The template's expressions did not finish evaluating within ${EVALUATION_BUDGET_MS / 1000} seconds, the evaluation time one deployment may use. Use fewer or smaller copy loops, ranges and string operations.`,
  });

function createWorker(): Worker {
  const options = {
    resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
  };
  // Shipped as JavaScript (dist/) the worker is a file beside this one; run from source (tests, tsx)
  // it is TypeScript, loaded through tsx's loader registered in the new thread.
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./evaluator-worker.js', import.meta.url), options);
  const entry = new URL('./evaluator-worker.ts', import.meta.url).href;
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
    { ...options, eval: true },
  );
}

const slots = Array.from({ length: POOL_SIZE }, () => new Slot());

/**
 * Prepares a template on an evaluator thread (validation and planning): throws EvaluationError for
 * a template ARM would refuse. A nested deployment passes its parent: same thread, same budget,
 * the parent's secrets.
 */
export async function openTemplate(input: TemplateInput, parent?: EvaluatorSession): Promise<EvaluatorSession> {
  const parentState = parent ? states.get(parent) : undefined;
  const slot = parentState?.slot ?? slots.reduce((a, b) => (b.load < a.load ? b : a));
  const state: SessionState = {
    id: randomUUID(),
    input,
    secrets: parentState?.secrets ?? new Secrets(),
    budget: parentState?.budget ?? { remainingMs: EVALUATION_BUDGET_MS },
    slot,
    statesSent: 0,
  };
  slot.load++;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    slot.load--;
    void slot.enqueue(async () => slot.close(state.id));
  };
  const open = async () => {
    const result = (await slot.send(
      { op: 'open', session: state.id, input: state.input, secrets: state.secrets.list() },
      state,
    )) as { summary: Record<string, unknown>; plan: PlanEntry[]; parameters: TemplateInput['parameters'] };
    slot.opened(state.id);
    state.statesSent = 0;
    // Replays resolve the same values (newGuid() and utcNow() in defaults are drawn once).
    state.input = { ...state.input, parameters: result.parameters };
    return result;
  };
  /** A call on the session's thread, replaying the session first if that thread is a new one. */
  const call = (op: 'resource' | 'nested' | 'outputs', index: number, all: States) =>
    slot.enqueue(async () => {
      for (let attempt = 0; ; attempt++) {
        if (!slot.has(state.id)) await open();
        const entries = [...all];
        const sending = entries.slice(state.statesSent);
        state.statesSent = entries.length;
        try {
          return await slot.send({ op, session: state.id, index, states: sending }, state);
        } catch (error) {
          // The thread dropped the session (it keeps a bounded number): replay it once.
          if (error instanceof EvaluationError && error.code === 'SessionMissing' && attempt === 0) {
            slot.forget(state.id);
            continue;
          }
          throw error;
        }
      }
    });
  let prepared: Awaited<ReturnType<typeof open>>;
  try {
    prepared = await slot.enqueue(open);
  } catch (error) {
    close();
    throw error;
  }
  const session: EvaluatorSession = {
    summary: prepared.summary,
    plan: prepared.plan,
    secrets: state.secrets,
    resource: (index, all) => call('resource', index, all) as Promise<Record<string, unknown>>,
    nested: (index, all) => call('nested', index, all) as ReturnType<EvaluatorSession['nested']>,
    outputs: (all) => call('outputs', -1, all) as Promise<Record<string, unknown>>,
    close,
  };
  states.set(session, state);
  return session;
}

const states = new WeakMap<EvaluatorSession, SessionState>();
