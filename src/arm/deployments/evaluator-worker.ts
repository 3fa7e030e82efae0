// The evaluator thread (see evaluator.ts): holds prepared templates by session id and evaluates
// what the engine asks for. Every failure is answered as a message, already redacted; nothing here
// can reach the front door's event loop or heap.
import { parentPort } from 'node:worker_threads';
import {
  evaluateNested,
  evaluateOutputs,
  evaluateResource,
  ExpressionError,
  prepareTemplate,
  Secrets,
  type PreparedTemplate,
  type TemplateInput,
} from './template/index.js';
import type { EvaluatorReply, EvaluatorRequest } from './evaluator-protocol.js';

/** Named so that evaluator.ts can refer to this file: it is loaded by URL, and a compilation must still emit it. */
export type EvaluatorEntry = 'evaluator-worker';

/** Sessions kept; the oldest is dropped beyond this and replayed by the engine when it asks again. */
const SESSIONS = 64;

interface Session {
  prepared?: PreparedTemplate;
  secrets: Secrets;
  /** Secrets already reported to the engine. */
  reported: number;
  states: Map<string, Record<string, unknown>>;
}
const sessions = new Map<string, Session>();

parentPort!.on('message', (request: EvaluatorRequest) => {
  let session = sessions.get(request.session);
  if (request.op === 'close') {
    sessions.delete(request.session);
    return;
  }
  if (request.op === 'open') {
    session = { secrets: new Secrets(request.secrets), reported: request.secrets.length, states: new Map() };
    sessions.delete(request.session);
    sessions.set(request.session, session);
    if (sessions.size > SESSIONS) sessions.delete(sessions.keys().next().value!);
  } else if (!session?.prepared) {
    return reply({ id: request.id, ok: false, error: { code: 'SessionMissing', message: '' }, secrets: [] });
  } else {
    for (const [id, state] of request.states) session.states.set(id, state);
  }
  const current = session!;
  try {
    reply({ id: request.id, ok: true, result: run(request, current), secrets: newSecrets(current) });
  } catch (error) {
    const err = error as Error & { code?: string; path?: string };
    const known = error instanceof ExpressionError || error instanceof SyntaxError;
    reply({
      id: request.id,
      ok: false,
      error: {
        code: known ? (err.code ?? 'InvalidTemplate') : 'InvalidTemplate',
        message: current.secrets.redact(known ? err.message : `The template could not be evaluated: ${err.message}`),
        path: error instanceof ExpressionError ? err.path : undefined,
      },
      secrets: newSecrets(current),
    });
  }
});

function run(request: Exclude<EvaluatorRequest, { op: 'close' }>, session: Session): unknown {
  switch (request.op) {
    case 'open': {
      const prepared = prepareTemplate(request.input as TemplateInput, session.secrets);
      session.prepared = prepared;
      return {
        summary: prepared.summary,
        plan: prepared.plan,
        // Replaying the session (another thread, after this one was ended) must not draw newGuid() again.
        parameters: Object.fromEntries(Object.entries(prepared.parameters).map(([k, p]) => [k, { value: p.value }])),
      };
    }
    case 'resource':
      return evaluateResource(session.prepared!, request.index, session.states);
    case 'nested':
      return evaluateNested(session.prepared!, request.index, session.states);
    case 'outputs':
      return evaluateOutputs(session.prepared!, session.states);
  }
}

function newSecrets(session: Session): string[] {
  const all = session.secrets.list();
  const fresh = all.slice(session.reported);
  session.reported = all.length;
  return fresh;
}

function reply(message: EvaluatorReply): void {
  parentPort!.postMessage(message);
}
