// Refusing a CONNECT: a CONNACK with the reason where the protocol level has a code for it, then
// the connection ends. Used by the dispatcher (for what handlers throw) and by the CONNECT handler.
import type { Connection } from './connection.js';
import { v3ConnackCode } from './reason-codes.js';

export function refuseConnect(conn: Connection, reasonCode: number, reason: string): void {
  if (conn.isV5) {
    conn.write({ cmd: 'connack', sessionPresent: false, reasonCode, properties: conn.reason(reason) });
  } else {
    const returnCode = v3ConnackCode(reasonCode);
    // 3.1.1 has no code for e.g. a malformed packet: the connection is just closed
    if (returnCode !== undefined) conn.write({ cmd: 'connack', sessionPresent: false, returnCode });
  }
  conn.ctx.metrics.inc('aio_mq_connections_refused', { reason: `0x${reasonCode.toString(16)}` });
  conn.terminate({ publishWill: false });
}
