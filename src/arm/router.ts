import type { ArmRequest, ArmResponse } from './context.js';

/** One front-door route: a method (or several) and a case-insensitive path pattern with named groups [ID-2]. */
export interface Route {
  method: string | string[];
  pattern: RegExp;
  handler: (request: ArmRequest) => Promise<ArmResponse>;
  /** Discovery-style routes that take no token [security: only metadata, discovery and token endpoints]. */
  anonymous?: boolean;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): RouteMatch | { methodNotAllowed: true } | undefined {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes(method) && !(method === 'HEAD' && methods.includes('GET'))) continue;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(match.groups ?? {})) if (v !== undefined) params[k] = decodeURIComponent(v);
    return { route, params };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}
