// BrokerAuthentications and BrokerAuthorizations: bound to listeners by name; every listener, Secret
// and ConfigMap they name must exist, and every method must be one this broker can run here.
import {
  authenticationReferences,
  type AuthenticationSpec,
  type AuthorizationSpec,
} from '../../../src/api/broker-config.js';
import type { KubeObject } from '../../cluster/index.js';
import { REASONS } from '../constants.js';
import { checkSpec, type Checked, type Verdicts } from './common.js';
import type { RenderInput } from './index.js';

export type CheckedAuthentication = Checked<AuthenticationSpec>;
export type CheckedAuthorization = Checked<AuthorizationSpec>;

export function checkAuthentications(
  input: RenderInput,
  crs: KubeObject[],
  listeners: ReadonlySet<string>,
  verdicts: Verdicts,
): CheckedAuthentication[] {
  return crs.flatMap((cr) => {
    const authn = checkSpec<AuthenticationSpec>(cr, 'authentications', verdicts);
    if (!authn || !listenersExist(input, authn, listeners, verdicts)) return [];
    const { namespace } = input;
    const methods = authn.spec.authenticationMethods;
    if (JSON.stringify(methods).includes('"keyVault"'))
      return (
        verdicts.fail(cr, REASONS.Unsupported, 'Key Vault references are not supported by iotmq; use secretName.'),
        []
      );
    if (methods.some((m) => m.svid))
      return (verdicts.fail(cr, REASONS.Unsupported, 'SPIFFE SVID authentication is not supported by iotmq.'), []);
    if (methods.some((m) => m.sat) && !input.layout.kubernetes)
      return (
        verdicts.fail(
          cr,
          REASONS.Unsupported,
          'Service account token (sat) authentication needs a Kubernetes API server, which this cluster does not have.',
        ),
        []
      );
    const refs = authenticationReferences(authn.spec);
    const noSecret = refs.secrets.find((s) => !input.secrets.has(s));
    if (noSecret)
      return (
        verdicts.fail(cr, REASONS.SecretNotFound, `Secret '${noSecret}' does not exist in namespace '${namespace}'.`),
        []
      );
    const noConfigMap = refs.configMaps.find((c) => !input.configMaps.has(c));
    if (noConfigMap)
      return (
        verdicts.fail(
          cr,
          REASONS.ConfigMapNotFound,
          `ConfigMap '${noConfigMap}' does not exist in namespace '${namespace}'.`,
        ),
        []
      );
    return [authn];
  });
}

export function checkAuthorizations(
  input: RenderInput,
  crs: KubeObject[],
  listeners: ReadonlySet<string>,
  verdicts: Verdicts,
): CheckedAuthorization[] {
  return crs.flatMap((cr) => {
    const authz = checkSpec<AuthorizationSpec>(cr, 'authorizations', verdicts);
    return authz && listenersExist(input, authz, listeners, verdicts) ? [authz] : [];
  });
}

function listenersExist(
  input: RenderInput,
  checked: Checked<{ listenerRef: string[] }>,
  listeners: ReadonlySet<string>,
  verdicts: Verdicts,
): boolean {
  const missing = checked.spec.listenerRef.filter((name) => !listeners.has(name));
  if (!missing.length) return true;
  return verdicts.fail(
    checked.cr,
    REASONS.ListenerNotFound,
    `Listener(s) ${missing.map((m) => `'${m}'`).join(', ')} do not exist in namespace '${input.namespace}'.`,
  );
}
