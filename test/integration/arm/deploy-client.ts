// Template deployments over the front door's REST contract, as the CLI drives them: PUT, then poll the
// Azure-AsyncOperation until it is terminal, then GET the deployment [RES-8]. One copy for every
// deployment test file (@azure/arm-resources 7 no longer carries a deployments client).
import type { ArmHarness } from './harness.js';

export const DEPLOY_API = 'api-version=2022-09-01';

export const deploymentPath = (arm: ArmHarness, group: string, name: string) =>
  `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Resources/deployments/${name}`;

/** The status of a GET of a resource group: whether the front door still answers after a hostile template. */
export async function resourceGroupStatus(arm: ArmHarness, group: string): Promise<number> {
  return (
    await arm.call('GET', `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/${group}?${DEPLOY_API}`)
  ).status;
}

/** PUT a deployment; throws with the response when it is refused. */
export async function startDeployment(
  arm: ArmHarness,
  group: string,
  name: string,
  properties: Record<string, unknown>,
): Promise<{ statusUrl: URL; response: Awaited<ReturnType<ArmHarness['call']>> }> {
  const response = await arm.call('PUT', `${deploymentPath(arm, group, name)}?${DEPLOY_API}`, { properties });
  if (response.status >= 300) throw Object.assign(new Error(JSON.stringify(response.body)), { response });
  return { statusUrl: new URL(response.headers['azure-asyncoperation'] as string), response };
}

/** Polls a deployment's Azure-AsyncOperation until it is terminal and GETs the deployment. */
export async function awaitDeployment(arm: ArmHarness, group: string, name: string, statusUrl: URL): Promise<any> {
  let status = 'Running';
  while (!['Succeeded', 'Failed', 'Canceled'].includes(status)) {
    const poll = await arm.call('GET', `${statusUrl.pathname}${statusUrl.search}`);
    status = poll.body.status;
    if (status === 'Running')
      await new Promise((resolve) => setTimeout(resolve, Number(poll.headers['retry-after'] ?? 1) * 100));
  }
  return (await arm.call('GET', `${deploymentPath(arm, group, name)}?${DEPLOY_API}`)).body;
}

/** PUT a deployment, poll it until terminal, GET it. */
export async function deploy(
  arm: ArmHarness,
  group: string,
  name: string,
  properties: Record<string, unknown>,
): Promise<any> {
  const { statusUrl } = await startDeployment(arm, group, name, properties);
  return awaitDeployment(arm, group, name, statusUrl);
}
