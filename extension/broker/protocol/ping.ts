import type { Connection } from './connection.js';

/** PINGREQ → PINGRESP [MQTT-3.12.4-1]; the keep-alive timer was already reset on receipt. */
export function handlePing(conn: Connection): void {
  conn.write({ cmd: 'pingresp' });
}
