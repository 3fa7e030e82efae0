// What an MQTT 5 client tells the broker about itself in its CONNECT properties. Apart from
// connection.ts so that the CONNECT handler can use it without importing the connection (whose
// module loads the dispatcher, which loads the handlers: an import cycle).

export interface ClientProperties {
  receiveMaximum: number;
  maximumPacketSize: number;
  topicAliasMaximum: number;
  requestProblemInformation: boolean;
}

/** A 3.1.1 client, or an MQTT 5 client that set none of them. */
export const DEFAULT_CLIENT_PROPERTIES: ClientProperties = Object.freeze({
  receiveMaximum: 65535,
  maximumPacketSize: Number.POSITIVE_INFINITY,
  topicAliasMaximum: 0,
  requestProblemInformation: true,
});
