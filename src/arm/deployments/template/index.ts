export { parseJsonc, stripJsonComments } from './jsonc.js';
export { atPath, ExpressionError, isExpression, parseExpression, type Expr } from './expression.js';
export { evaluateExpression, evaluateValue } from './evaluate.js';
export { FUNCTIONS, type FunctionScope } from './functions.js';
export { evaluateBody, planResources, TEMPLATE_ONLY_KEYS, type PlannedResource } from './plan.js';
export { normaliseType, resolveParameters, type ResolvedParameter } from './parameters.js';
export { locate } from './locate.js';
export { LIMITS } from './limits.js';
export { Secrets } from './secrets.js';
export {
  evaluateNested,
  evaluateOutputs,
  evaluateResource,
  prepareTemplate,
  type DeploymentContext,
  type PlanEntry,
  type PreparedTemplate,
  type States,
  type TemplateInput,
} from './prepare.js';
