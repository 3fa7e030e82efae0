import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../common/paths.js';

export const PROVIDER_NAMESPACE = 'Microsoft.IoTOperationsMQ';
export const API_VERSION = '2023-10-04-preview';
export const SUPPORTED_API_VERSIONS: readonly string[] = [API_VERSION];

/** The subset of an OpenAPI 3 document this project reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; parameters?: Record<string, OpenApiParameter> };
}

export interface OpenApiOperation {
  operationId: string;
  tags?: string[];
  parameters?: (OpenApiParameter | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: JsonSchema }> }>;
  'x-ms-pageable'?: unknown;
}

export interface OpenApiParameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
}

export type JsonSchema = { [key: string]: unknown };

export function openApiPath(version = API_VERSION, root = path.join(packageRoot, 'specs')): string {
  return path.join(root, 'openapi3', version, 'openapi.json');
}

/** The emitted OpenAPI 3 document: the machine-readable form of specs/*.tsp. */
export function loadOpenApi(file = openApiPath()): OpenApiDocument {
  return JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument;
}

/** `#/components/schemas/Name` → `Name`. */
export function refName(ref: string): string {
  const prefix = '#/components/schemas/';
  if (!ref.startsWith(prefix)) throw new Error(`unsupported $ref ${ref}`);
  return ref.slice(prefix.length);
}
