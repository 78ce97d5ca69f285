/**
 * What the API Gateway authorizer returns for a verified principal: an IAM policy over the routes
 * of `ROUTES` its privileges cover, and the context values the API handlers and API Gateway's 403
 * body read. Which route a key may call is the domain's rule (`refusalOf` in domain/auth.ts).
 */
import { findRoute, matchResource, PRIVILEGES, ROUTES } from '../config/routes';
import { type Principal, refusalOf } from '../domain/auth';

export interface PolicyStatement {
  Action: 'execute-api:Invoke';
  Effect: 'Allow' | 'Deny';
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** What API Gateway passes on to the integration as `requestContext.authorizer` (strings only). */
export interface AuthContext {
  [name: string]: string;
  key: string;
  admin: 'true' | 'false';
  /** The customer id of a customer key, '' for an admin key. */
  customer: string;
  /** Comma-separated privileges ('read,submit,manage' for admin keys). */
  privileges: string;
  /**
   * Why this request is refused, or a generic sentence when it is allowed: API Gateway's
   * access-denied response quotes it (`$context.authorizer.denied`), so it holds no quote or backslash.
   */
  denied: string;
}

/**
 * Splits a method ARN (`arn:aws:execute-api:region:account:apiId/stage/METHOD/path…`) into the
 * part up to the API id and the stage.
 */
function parseMethodArn(methodArn: string): { prefix: string; stage: string } {
  const [prefix, stage] = methodArn.split('/');
  if (!prefix?.startsWith('arn:') || !stage) throw new Error(`not an API Gateway method ARN: ${methodArn}`);
  return { prefix, stage };
}

/** The execute-api resource pattern of a route for customer C (path parameters become `*`). */
function routeResource(base: string, method: string, resource: string, customer: number): string {
  const path = resource.replace('{customer}', String(customer)).replace(/\{[^}]+\}/g, '*');
  return `${base}/${method}${path}`;
}

/**
 * The IAM policy of a principal, valid for every route it may call (not just the one called), so
 * that it stays right should API Gateway ever cache it by `Authorization` header:
 * - admin: everything in the stage;
 * - customer key of customer C: each route of `ROUTES` that `refusalOf` lets it call, with C in
 *   place of `{customer}` (`GET /queue/load` too). Nothing else: the keys of C and `/queue/status`
 *   are admin-only. (`GET /queue` is public and has no authorizer.)
 * In resource ARNs `*` matches any run of characters, slashes included.
 */
export function policyFor(principal: Principal, methodArn: string): PolicyDocument {
  const { prefix, stage } = parseMethodArn(methodArn);
  const base = `${prefix}/${stage}`;
  let resources: string[];
  if (principal.admin) {
    resources = [`${base}/*/*`];
  } else if (principal.customer !== undefined && Number.isSafeInteger(principal.customer) && principal.customer >= 0) {
    const customer = principal.customer;
    // Every GET route also answers HEAD (the same function, without the body).
    resources = ROUTES.filter((r) => refusalOf(principal, r) === undefined).flatMap((r) =>
      (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]).map((method) => routeResource(base, method, r.resource, customer)),
    );
  } else {
    resources = [];
  }
  if (resources.length === 0) {
    return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${base}/*/*`] }] };
  }
  return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resources }] };
}

/** Said when a request is refused without a more precise reason. */
const GENERIC_DENIAL = 'These credentials do not allow this request.';

/**
 * Why the policy refuses this very request (the method ARN of the call), in words for the
 * refusal's body; undefined when it is allowed. API Gateway shows it through the `denied` context value.
 */
function denialReason(principal: Principal, methodArn: string): string | undefined {
  if (principal.admin) return undefined;
  const [, , method, ...rest] = methodArn.split('/');
  const match = matchResource(`/${rest.join('/')}`);
  const route = match && method ? findRoute(method === 'HEAD' ? 'GET' : method, match.resource) : undefined;
  if (!route || !match) return GENERIC_DENIAL;
  return refusalOf(principal, route, match.pathParameters.customer);
}

/** The authorizer context for a principal and this request (API Gateway context values must be scalars). */
export function authContext(principal: Principal, methodArn: string): AuthContext {
  return {
    key: principal.key,
    admin: principal.admin ? 'true' : 'false',
    customer: principal.admin || principal.customer === undefined ? '' : String(principal.customer),
    privileges: (principal.admin ? PRIVILEGES : (principal.privileges ?? PRIVILEGES)).join(','),
    denied: (denialReason(principal, methodArn) ?? GENERIC_DENIAL).replace(/["\\]/g, ''),
  };
}
