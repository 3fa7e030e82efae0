import https from 'node:https';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

export const caTrustPolicyName = 'iotmqCaTrustPolicy';

/**
 * Makes an Azure SDK pipeline (ARM clients, and @azure/identity's token requests) trust one extra
 * CA — the dev CA — for its own requests only. TLS verification stays on; nothing global changes
 * (no NODE_TLS_REJECT_UNAUTHORIZED, no process-wide CA list).
 */
export function caTrustPolicy(caPem: string): PipelinePolicy {
  const agent = new https.Agent({ ca: caPem, keepAlive: true });
  return {
    name: caTrustPolicyName,
    sendRequest(request, next) {
      if (request.url.startsWith('https:')) request.agent = agent;
      return next(request);
    },
  };
}

/** `additionalPolicies` entry for client and credential options. */
export function caTrustOptions(caPem: string): {
  additionalPolicies: { policy: PipelinePolicy; position: 'perCall' }[];
} {
  return { additionalPolicies: [{ policy: caTrustPolicy(caPem), position: 'perCall' }] };
}
