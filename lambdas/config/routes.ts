/**
 * Every REST route, in one table read by the CDK stack (API Gateway resources, methods and which
 * Lambda serves them) and by the local runtime (matching a request to the same handler).
 */

/** The Lambda entry points behind the API (file names under `lambdas/handlers/`). */
export type ApiFunctionName =
  | 'api-read'
  | 'api-submit'
  | 'api-test-batch'
  | 'api-batch-actions'
  | 'api-keys'
  | 'api-operator'
  | 'api-console';

/**
 * Who may call a route.
 * - `public`: anyone (no credentials);
 * - `customer`: a key of the customer named in the path, or an admin key;
 * - `authenticated`: any valid key (the handler narrows what a customer key sees); with no
 *   `privilege`, every key may call it whatever privileges it holds;
 * - `admin`: an admin key only.
 */
export type Access = 'public' | 'customer' | 'authenticated' | 'admin';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * What a customer key may be allowed to do (Neuron's queue API grants per operation): `read` the
 * GET routes, `submit` batches, `manage` them (test, cancel, retry). Chosen when the
 * key is created; all three by default. Admin keys may do everything.
 */
export type Privilege = 'read' | 'submit' | 'manage';
export const PRIVILEGES: readonly Privilege[] = ['read', 'submit', 'manage'];

export interface Route {
  method: HttpMethod;
  /** API Gateway resource template; path parameters in braces. */
  resource: string;
  fn: ApiFunctionName;
  access: Access;
  /** The privilege a customer key needs (routes that customer keys may call). */
  privilege?: Privilege;
  /**
   * The route reads a JSON body, `required` or `optional`: another Content-Type answers 415 (http/api.ts)
   * and the description documents the body and the 415. Other routes ignore any body.
   */
  body?: 'required' | 'optional';
}

const C = '/customers/{customer}';
const B = `${C}/queue/batches/{batch}`;

// `as const` keeps each method and resource a literal type, so RouteKey below names every route.
const TABLE = [
  { method: 'GET', resource: '/queue', fn: 'api-read', access: 'public' },
  { method: 'GET', resource: '/queue/load', fn: 'api-operator', access: 'authenticated', privilege: 'read' },
  { method: 'GET', resource: '/queue/status', fn: 'api-operator', access: 'admin' },
  { method: 'GET', resource: `${C}/queue`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'POST', resource: `${C}/queue`, fn: 'api-submit', access: 'customer', privilege: 'submit', body: 'required' },
  { method: 'POST', resource: `${C}/queue/priority`, fn: 'api-submit', access: 'customer', privilege: 'submit', body: 'required' },
  { method: 'GET', resource: `${C}/queue/batches`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: `${C}/queue/active`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: `${C}/queue/recent`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: `${C}/queue/images`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: B, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'DELETE', resource: B, fn: 'api-batch-actions', access: 'customer', privilege: 'manage' },
  { method: 'POST', resource: `${B}/retry`, fn: 'api-batch-actions', access: 'customer', privilege: 'manage' },
  { method: 'GET', resource: `${B}/images`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: `${B}/completedImages`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: `${B}/errorImages`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'POST', resource: `${B}/test`, fn: 'api-test-batch', access: 'customer', privilege: 'manage' },
  { method: 'GET', resource: `${C}/spaces/{space}/images/{image}`, fn: 'api-read', access: 'customer', privilege: 'read' },
  { method: 'GET', resource: '/openapi.json', fn: 'api-read', access: 'public' },
  // The key making the request (its customer and privileges): any valid key, whatever its privileges.
  { method: 'GET', resource: '/key', fn: 'api-read', access: 'authenticated' },
  { method: 'GET', resource: `${C}/keys`, fn: 'api-keys', access: 'admin' },
  { method: 'POST', resource: `${C}/keys`, fn: 'api-keys', access: 'admin', body: 'optional' },
  { method: 'GET', resource: `${C}/keys/{key}`, fn: 'api-keys', access: 'admin' },
  { method: 'DELETE', resource: `${C}/keys/{key}`, fn: 'api-keys', access: 'admin' },
  // The browser console: a static page and its assets, public because they hold no data; the
  // page asks for a key and sends it with each API call.
  { method: 'GET', resource: '/console', fn: 'api-console', access: 'public' },
  { method: 'GET', resource: '/console/assets/{asset}', fn: 'api-console', access: 'public' },
] as const satisfies readonly Route[];

export const ROUTES: readonly Route[] = TABLE;

type KeyOf<R> = R extends { method: infer M extends string; resource: infer P extends string } ? `${M} ${P}` : never;

/**
 * `METHOD resource` of one route of ROUTES, e.g. `'GET /customers/{customer}/queue'`: how handlers
 * and the OpenAPI operations name a route, so a misspelt or removed route does not compile.
 */
export type RouteKey = KeyOf<(typeof TABLE)[number]>;

/** The routes one API function serves. */
export type RouteKeyOf<F extends ApiFunctionName> = KeyOf<Extract<(typeof TABLE)[number], { fn: F }>>;

/** The key of a route of ROUTES (the only routes there are). */
export const routeKey = (route: Route): RouteKey => `${route.method} ${route.resource}` as RouteKey;

/** Distinct resources with the methods each allows (anything else on them answers 405). */
export function allowedMethods(): Map<string, HttpMethod[]> {
  const byResource = new Map<string, HttpMethod[]>();
  for (const route of ROUTES) {
    byResource.set(route.resource, [...(byResource.get(route.resource) ?? []), route.method]);
  }
  // The priority queue is POST-only (GET → 405), but it is a resource of its own.
  return byResource;
}

/**
 * The methods a resource answers, HEAD included wherever GET is: the stack adds a HEAD method next
 * to each GET route (same function, which drops the body), and the local gateway does the same.
 */
export function withHead(methods: readonly string[]): string[] {
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods];
}

/** Splits a resource template into literal segments and `{name}` parameters. */
function segmentsOf(resource: string): string[] {
  return resource.split('/').filter(Boolean);
}

/**
 * Finds the resource template matching a concrete path, as API Gateway does: literal segments win
 * over parameters; a parameter matches exactly one non-empty segment. Returns the template and the
 * decoded path parameters, or undefined when no resource matches (API Gateway's 404).
 */
export function matchResource(path: string): { resource: string; pathParameters: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  let best: { resource: string; pathParameters: Record<string, string>; literals: number } | undefined;
  for (const resource of allowedMethods().keys()) {
    const segments = segmentsOf(resource);
    if (segments.length !== parts.length) continue;
    const pathParameters: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    segments.forEach((segment, i) => {
      const part = parts[i] as string;
      if (segment.startsWith('{')) {
        let decoded: string;
        try {
          decoded = decodeURIComponent(part);
        } catch {
          decoded = part;
        }
        pathParameters[segment.slice(1, -1)] = decoded;
      } else if (segment === part) {
        literals += 1;
      } else {
        ok = false;
      }
    });
    if (ok && (!best || literals > best.literals)) best = { resource, pathParameters, literals };
  }
  return best && { resource: best.resource, pathParameters: best.pathParameters };
}

export function findRoute(method: string, resource: string): Route | undefined {
  return ROUTES.find((r) => r.method === method && r.resource === resource);
}
