import type { ArmContext } from '../context.js';
import type { Route } from '../router.js';

export function deploymentRoutes(_ctx: ArmContext): Route[] {
  return [];
}
