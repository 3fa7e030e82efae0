// AUTH (MQTT 5 enhanced authentication, spec 4.12): the continuation of a CONNECT exchange, or
// re-authentication of a connected client.
import type { IAuthPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { continueEnhancedAuth } from './connect.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';

export async function handleAuth(conn: Connection, packet: IAuthPacket): Promise<void> {
  if (!conn.isV5) throw new ProtocolError(ReasonCode.MalformedPacket, 'AUTH in MQTT 3.1.1');
  const method = packet.properties?.authenticationMethod;
  // The method must stay the same for the whole connection [MQTT-4.12.0-5]
  if (!conn.authMethod || method !== conn.authMethod)
    throw new ProtocolError(ReasonCode.ProtocolError, 'authentication method differs from CONNECT');
  const data = packet.properties?.authenticationData;

  if (conn.state === 'authenticating') {
    if (packet.reasonCode !== ReasonCode.ContinueAuthentication)
      throw new ProtocolError(ReasonCode.ProtocolError, 'AUTH during CONNECT must be Continue');
    return continueEnhancedAuth(conn, await conn.pendingConnect!.exchange.step(data));
  }

  // Re-authentication: a new exchange with the same method [MQTT-4.12.1-1]
  if (packet.reasonCode !== ReasonCode.ReAuthenticate && !conn.pendingConnect)
    throw new ProtocolError(ReasonCode.ProtocolError, 'unexpected AUTH');
  const security = conn.ctx.security(conn.info.listener);
  let exchange = conn.pendingConnect?.exchange;
  if (packet.reasonCode === ReasonCode.ReAuthenticate || !exchange) {
    const m = security.enhancedMethod(method);
    if (!m) throw new ProtocolError(ReasonCode.BadAuthenticationMethod, `authentication method ${method} is gone`);
    exchange = m.begin({ clientId: conn.clientId, authenticationMethod: method, authenticationData: data });
  }
  const outcome = await exchange.step(data);
  if (outcome.result === 'continue') {
    conn.pendingConnect = { packet: undefined as never, method, exchange };
    conn.write({
      cmd: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod: method, authenticationData: outcome.authenticationData },
    });
    return;
  }
  conn.pendingConnect = undefined;
  if (outcome.result !== 'accept') {
    // Failed re-authentication ends the connection [MQTT-4.12.1-2]
    conn.ctx.metrics.inc('aio_mq_authentication_failures', { listener: conn.info.listener });
    throw new ProtocolError(
      outcome.result === 'reject' ? (outcome.reasonCode as never) : ReasonCode.NotAuthorized,
      outcome.result === 'reject' ? outcome.reason : 're-authentication failed',
    );
  }
  conn.principal = { ...conn.principal, attributes: outcome.attributes };
  conn.setCredentialExpiry(outcome.expiresAt);
  conn.write({ cmd: 'auth', reasonCode: ReasonCode.Success, properties: { authenticationMethod: method } });
}
