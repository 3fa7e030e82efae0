import { pino, type Logger } from 'pino';

/**
 * The one root logger. Components take a child bound to their name
 * (`rootLogger.child({ component: 'rp' })`); secrets and tokens are redacted here
 * so no call site has to remember.
 */
export const rootLogger: Logger = pino({
  level: process.env.IOTMQ_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  redact: {
    paths: [
      'authorization',
      'headers.authorization',
      'req.headers.authorization',
      'password',
      'clientSecret',
      'client_secret',
      'token',
      '*.password',
      '*.clientSecret',
    ],
    censor: '[redacted]',
  },
});

export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...bindings });
}

export type { Logger };
