// MQTT 5 reason codes (spec 2.4) in one table, and their MQTT 3.1.1 equivalents.

export const ReasonCode = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  SubscriptionIdentifiersNotSupported: 0xa1,
} as const;

export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode];

/** MQTT 3.1.1 CONNACK return codes (3.2.2.3); a refusal without an equivalent has none (close only). */
export const ConnackReturnCodeV3 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

const V5_TO_V3_CONNACK: Record<number, number> = {
  [ReasonCode.UnsupportedProtocolVersion]: ConnackReturnCodeV3.UnacceptableProtocolVersion,
  [ReasonCode.ClientIdentifierNotValid]: ConnackReturnCodeV3.IdentifierRejected,
  [ReasonCode.ServerUnavailable]: ConnackReturnCodeV3.ServerUnavailable,
  [ReasonCode.ServerBusy]: ConnackReturnCodeV3.ServerUnavailable,
  [ReasonCode.ServerShuttingDown]: ConnackReturnCodeV3.ServerUnavailable,
  [ReasonCode.ConnectionRateExceeded]: ConnackReturnCodeV3.ServerUnavailable,
  [ReasonCode.BadUserNameOrPassword]: ConnackReturnCodeV3.BadUserNameOrPassword,
  [ReasonCode.BadAuthenticationMethod]: ConnackReturnCodeV3.NotAuthorized,
  [ReasonCode.NotAuthorized]: ConnackReturnCodeV3.NotAuthorized,
  [ReasonCode.Banned]: ConnackReturnCodeV3.NotAuthorized,
};

export function v3ConnackCode(reasonCode: number): number | undefined {
  return V5_TO_V3_CONNACK[reasonCode];
}
