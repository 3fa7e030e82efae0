// What authentication and authorization exchange with the connection side.

/** The authenticated identity a connection acts as; attributes feed authorization rules. */
export interface Principal {
  clientId: string;
  username?: string;
  attributes: Record<string, string>;
}

/** What a client presented: CONNECT fields plus the TLS client certificate chain. */
export interface Credentials {
  clientId: string;
  username?: string;
  password?: Buffer;
  /** PEM certificates, leaf first, as presented in the TLS handshake. */
  certificateChain?: string[];
  authenticationMethod?: string;
  authenticationData?: Buffer;
  /** The client's IP address (rate limits and fair queuing of costly checks). */
  sourceAddress?: string;
  /** False once the connection has closed: work for it can be skipped. */
  stillWanted?: () => boolean;
}

export type AuthOutcome =
  | { result: 'accept'; username?: string; attributes: Record<string, string>; expiresAt?: number }
  | { result: 'reject'; reasonCode: number; reason: string }
  /** Enhanced authentication needs another AUTH round trip carrying this data. */
  | { result: 'continue'; authenticationData?: Buffer }
  /** These credentials are not for this method: try the next one (section 3 "Chain"). */
  | { result: 'not-relevant' };

/** One round-trip conversation of MQTT 5 enhanced authentication (spec 4.12). */
export interface EnhancedAuthExchange {
  step(authenticationData: Buffer | undefined): Promise<AuthOutcome>;
}

export interface EnhancedAuthMethod {
  /** The Authentication Method name, e.g. `K8S-SAT`. */
  readonly name: string;
  begin(credentials: Credentials): EnhancedAuthExchange;
}

export interface AuthenticationMethod {
  readonly kind: string;
  relevant(credentials: Credentials): boolean;
  authenticate(credentials: Credentials): Promise<AuthOutcome>;
  /** Methods that can also run as MQTT 5 enhanced authentication. */
  readonly enhanced?: EnhancedAuthMethod;
}

export interface Authorizer {
  canConnect(principal: Principal): boolean;
  canPublish(principal: Principal, topic: string): boolean;
  canSubscribe(principal: Principal, filter: string): boolean;
}

/** Security of one listener, looked up per connection so a reload applies live. */
export interface ListenerSecurity {
  /** null when authentication is off for the listener: anyone may connect. */
  authenticate: ((credentials: Credentials) => Promise<AuthOutcome>) | null;
  enhancedMethod(name: string): EnhancedAuthMethod | undefined;
  /** null when authorization is off: every authenticated client may do everything. */
  authorizer: Authorizer | null;
}
