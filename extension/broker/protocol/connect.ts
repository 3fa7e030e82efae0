// CONNECT: validation, authentication (plain or enhanced), Connect authorization, session
// attach, CONNACK. Enhanced authentication suspends here and resumes in auth.ts.
import type { IConnectPacket, IConnackPacket } from 'mqtt-packet';
import type { AuthOutcome, Credentials, Principal } from '../auth/types.js';
import { SESSION_NEVER_EXPIRES, type WillMessage } from '../session/types.js';
import { DEFAULT_CLIENT_PROPERTIES } from './client-properties.js';
import type { Connection } from './connection.js';
import { buildMessage } from './message.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { refuseConnect } from './refuse-connect.js';
import { assertTopicName, BROKER_TOPIC_REFUSAL, isBrokerTopic, isValidMqttString } from './topic-validation.js';

/** The outcome where the listener does not authenticate: no identity beyond the client id. */
const ANONYMOUS: AuthOutcome = Object.freeze({ result: 'accept', attributes: Object.freeze({}) });

export async function handleConnect(conn: Connection, packet: IConnectPacket): Promise<void> {
  const version = packet.protocolVersion ?? 4;
  conn.protocolVersion = version;
  // Protocol name must match the level: "MQTT" for 4 and 5, "MQIsdp" for 3.1 [MQTT-3.1.2-1]
  if ((packet.protocolId === 'MQTT') !== (version === 4 || version === 5))
    throw new ProtocolError(ReasonCode.UnsupportedProtocolVersion, 'protocol name does not match the level');
  conn.state = 'authenticating';
  const props = packet.properties ?? {};
  if (props.receiveMaximum === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'receive maximum 0'); // [MQTT-3.1.2-*]
  if (props.maximumPacketSize === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'maximum packet size 0');
  if (
    props.receiveMaximum !== undefined ||
    props.maximumPacketSize !== undefined ||
    props.topicAliasMaximum !== undefined ||
    props.requestProblemInformation !== undefined
  )
    conn.client = {
      receiveMaximum: props.receiveMaximum ?? DEFAULT_CLIENT_PROPERTIES.receiveMaximum,
      maximumPacketSize: props.maximumPacketSize ?? DEFAULT_CLIENT_PROPERTIES.maximumPacketSize,
      topicAliasMaximum: props.topicAliasMaximum ?? DEFAULT_CLIENT_PROPERTIES.topicAliasMaximum,
      requestProblemInformation: props.requestProblemInformation !== false,
    };

  if (!isValidMqttString(packet.clientId))
    throw new ProtocolError(ReasonCode.ClientIdentifierNotValid, 'client identifier is not valid UTF-8');
  if (packet.clientId === '' && version !== 5 && !packet.clean)
    // 3.1.1: a zero-byte client id needs CleanSession=1 [MQTT-3.1.3-8]
    throw new ProtocolError(ReasonCode.ClientIdentifierNotValid, 'empty client identifier requires a clean session');
  if (packet.username !== undefined && !isValidMqttString(packet.username))
    throw new ProtocolError(ReasonCode.MalformedPacket, 'user name is not valid UTF-8');

  if (packet.will) {
    if ((packet.will.qos ?? 0) > 2) throw new ProtocolError(ReasonCode.MalformedPacket, 'will QoS 3'); // [MQTT-3.1.2-12]
    assertTopicName(packet.will.topic);
  }

  conn.clientId = packet.clientId;
  conn.ctx.connections.connectArrived(conn);
  const security = conn.ctx.security(conn.info.listener);
  const credentials: Credentials = {
    clientId: packet.clientId,
    username: packet.username,
    password: packet.password,
    certificateChain: conn.info.certificateAuthorized === false ? undefined : conn.info.certificateChain,
    authenticationMethod: props.authenticationMethod,
    authenticationData: props.authenticationData,
    sourceAddress: conn.remoteAddress,
    // (a close while the CONNECT is being handled waits in the connection's queue: ask the transport)
    stillWanted: () => conn.state !== 'closed' && conn.transport.writable,
  };

  if (props.authenticationMethod !== undefined) {
    // Enhanced authentication [MQTT-4.12.0-*]
    const method = security.enhancedMethod(props.authenticationMethod);
    if (!method)
      throw new ProtocolError(
        ReasonCode.BadAuthenticationMethod,
        `authentication method ${props.authenticationMethod} is not supported`,
      );
    const exchange = method.begin(credentials);
    conn.authMethod = method.name;
    conn.pendingConnect = { packet, method: method.name, exchange };
    return continueEnhancedAuth(conn, await exchange.step(props.authenticationData));
  }
  if (credentials.authenticationData !== undefined)
    throw new ProtocolError(ReasonCode.ProtocolError, 'authentication data without a method'); // [MQTT-3.1.2-28]

  if (!security.authenticate) return finishAuthentication(conn, packet, ANONYMOUS);
  return finishAuthentication(conn, packet, await security.authenticate(credentials));
}

/** Apply one step of an enhanced exchange: another AUTH round, or the end of it. */
export async function continueEnhancedAuth(conn: Connection, outcome: AuthOutcome): Promise<void> {
  const pending = conn.pendingConnect!;
  if (outcome.result === 'continue') {
    conn.write({
      cmd: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod: pending.method, authenticationData: outcome.authenticationData },
    });
    return;
  }
  conn.pendingConnect = undefined;
  return finishAuthentication(conn, pending.packet, outcome);
}

async function finishAuthentication(conn: Connection, packet: IConnectPacket, outcome: AuthOutcome): Promise<void> {
  const { ctx } = conn;
  if (!conn.transport.writable) return; // gone while it was being authenticated
  if (outcome.result === 'continue') throw new ProtocolError(ReasonCode.BadAuthenticationMethod, 'unexpected continue');
  if (outcome.result !== 'accept') {
    const reasonCode = outcome.result === 'reject' ? outcome.reasonCode : ReasonCode.NotAuthorized;
    const reason = outcome.result === 'reject' ? outcome.reason : 'no authentication method accepts these credentials';
    ctx.metrics.inc('aio_mq_authentication_failures', { listener: conn.info.listener });
    conn.log.info({ clientId: packet.clientId, reasonCode, reason }, 'authentication failed');
    return refuseConnect(conn, reasonCode, reason);
  }
  ctx.metrics.inc('aio_mq_authentication_successes', { listener: conn.info.listener });

  const assigned = packet.clientId === '' ? ctx.assignClientId() : undefined;
  const clientId = assigned ?? packet.clientId;
  const principal: Principal = {
    clientId,
    username: outcome.username ?? packet.username,
    attributes: outcome.attributes,
  };
  const authorizer = ctx.security(conn.info.listener).authorizer;
  if (authorizer && !authorizer.canConnect(principal)) {
    ctx.metrics.inc('aio_mq_authorization_deny', { method: 'Connect' });
    return refuseConnect(conn, ReasonCode.NotAuthorized, 'not authorized to connect');
  }
  let will: WillMessage | undefined;
  if (packet.will) {
    if (isBrokerTopic(packet.will.topic)) return refuseConnect(conn, ReasonCode.NotAuthorized, BROKER_TOPIC_REFUSAL);
    if (authorizer && !authorizer.canPublish(principal, packet.will.topic)) {
      ctx.metrics.inc('aio_mq_authorization_deny', { method: 'Publish' });
      return refuseConnect(conn, ReasonCode.NotAuthorized, 'not authorized to publish the will topic');
    }
    const { willDelayInterval, messageExpiryInterval, ...willProps } = packet.will.properties ?? {};
    will = {
      message: buildMessage(
        clientId,
        packet.will.topic,
        Buffer.from(packet.will.payload),
        packet.will.qos ?? 0,
        !!packet.will.retain,
        willProps,
      ),
      delayInterval: willDelayInterval ?? 0,
      messageExpiryInterval,
    };
  }

  if (!ctx.connections.claim(conn)) {
    // a CONNECT of this client id that came later is connected already: this one lost the takeover
    if (ctx.log.isLevelEnabled('info')) conn.log.info('a later CONNECT of this client id already took the session');
    return conn.terminate({ publishWill: false });
  }

  const props = packet.properties ?? {};
  const requestedExpiry = conn.isV5 ? (props.sessionExpiryInterval ?? 0) : packet.clean ? 0 : SESSION_NEVER_EXPIRES;
  const expiry = Math.min(requestedExpiry, ctx.limits.maxSessionExpiry);
  conn.clientId = clientId;
  // kept only when authentication established it; otherwise the connection's client id is all
  // there is to authorize (conn.principal), and an idle connection holds no object for it
  if (outcome !== ANONYMOUS) conn.principal = principal;
  conn.sessionExpiryInterval = expiry;

  const { sessionPresent } = await ctx.backend.connect(
    {
      clientId,
      cleanStart: !!packet.clean,
      expiryInterval: expiry,
      receiveMaximum: conn.client.receiveMaximum,
      will,
    },
    conn,
  );
  if (conn.state === 'closed') {
    // the client went away while we attached its session
    await ctx.backend.disconnect(clientId, conn.connectionId, { publishWill: true });
    return;
  }

  // Server Keep Alive overrides the client's value [MQTT-3.2.2-21]; 3.1.1 has no way to say so.
  const maxKeepAlive = ctx.limits.maxKeepAlive;
  let keepAlive = packet.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (conn.isV5 && maxKeepAlive > 0 && (keepAlive === 0 || keepAlive > maxKeepAlive))
    serverKeepAlive = keepAlive = maxKeepAlive;

  const connack: IConnackPacket = conn.isV5
    ? {
        cmd: 'connack',
        reasonCode: ReasonCode.Success,
        sessionPresent,
        properties: {
          receiveMaximum: ctx.limits.receiveMaximum,
          maximumPacketSize: ctx.limits.maximumPacketSize,
          topicAliasMaximum: ctx.limits.topicAliasMaximum,
          ...(expiry !== requestedExpiry ? { sessionExpiryInterval: expiry } : {}),
          ...(assigned ? { assignedClientIdentifier: assigned } : {}),
          ...(serverKeepAlive !== undefined ? { serverKeepAlive } : {}),
          ...(conn.authMethod ? { authenticationMethod: conn.authMethod } : {}),
        },
      }
    : { cmd: 'connack', returnCode: 0, sessionPresent };
  conn.authenticated();
  conn.write(connack);
  conn.setKeepAlive(keepAlive);
  conn.setCredentialExpiry(outcome.expiresAt);
  ctx.metrics.inc('aio_mq_connections_accepted', { listener: conn.info.listener });
  if (ctx.log.isLevelEnabled('info'))
    conn.log.info({ version: conn.protocolVersion, sessionPresent, expiry }, 'connected');
  conn.release(); // deliveries queued by the back end (resends, queued messages) follow CONNACK
}
