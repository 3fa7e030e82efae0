/**
 * The cloud description `az cloud register --endpoint-resource-manager` reads from
 * `{arm}/metadata/endpoints` [RES-1]; the template function `environment()` returns the same object.
 * Every endpoint points at this server: it is the ARM front door and the token authority at once.
 */
/**
 * The legacy shape (api-version 2015-01-01), which `az cloud register` still asks for: it reads
 * `galleryEndpoint`, `graphEndpoint`, `authentication.loginEndpoint` and `audiences[0]`.
 */
export function legacyCloudMetadata(publicUrl: string): Record<string, unknown> {
  const current = cloudMetadata(publicUrl) as { authentication: Record<string, unknown> };
  return {
    galleryEndpoint: `${publicUrl}/`,
    graphEndpoint: `${publicUrl}/`,
    portalEndpoint: `${publicUrl}/`,
    authentication: { loginEndpoint: `${publicUrl}/`, audiences: current.authentication.audiences },
  };
}

export function cloudMetadata(publicUrl: string, name = 'IotmqLocal'): Record<string, unknown> {
  const host = new URL(publicUrl).hostname;
  return {
    name,
    portal: publicUrl,
    resourceManager: `${publicUrl}/`,
    authentication: {
      loginEndpoint: `${publicUrl}/`,
      // audiences[0] becomes the CLI's token resource (the CLI appends `/.default`).
      audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
      tenant: 'common',
      identityProvider: 'AAD',
    },
    media: `${publicUrl}/`,
    graphAudience: `${publicUrl}/`,
    graph: `${publicUrl}/`,
    microsoftGraphResourceId: `${publicUrl}/`,
    activeDirectoryDataLake: `${publicUrl}/`,
    batch: `${publicUrl}/`,
    gallery: `${publicUrl}/`,
    sqlManagement: `${publicUrl}/`,
    vmImageAliasDoc: `${publicUrl}/`,
    suffixes: {
      storage: `${host}`,
      keyVaultDns: `vault.${host}`,
      acrLoginServer: `azurecr.${host}`,
      sqlServerHostname: `database.${host}`,
    },
  };
}
