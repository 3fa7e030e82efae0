import type { ReasonCodeValue } from './reason-codes.js';

/**
 * Thrown by packet handlers; only the dispatcher turns it into a CONNACK (before the session
 * exists) or a DISCONNECT (after), as mosquitto's read_handle.c does.
 */
export class ProtocolError extends Error {
  constructor(
    readonly reasonCode: ReasonCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
