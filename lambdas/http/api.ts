/**
 * The thin HTTP layer every API handler shares: turns an API Gateway proxy event into a plain
 * request, runs one route function, renders its result or a JSON error. Handlers built with
 * `apiHandler` never see API Gateway types.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type ApiFunctionName, findRoute, type RouteKeyOf } from '../config/routes';
import { settings } from '../config/settings';
import { normalisePrivileges, type Principal } from '../domain/auth';
import { logger } from '../observability/logger';
import { toHttpError } from './domain-errors';
import { PATH_ID_RULE, pathIdValue } from './path-ids';
import { errorResponse, HttpError } from './problem';
import { requireJsonBody } from './request-bodies';

export interface ApiRequest {
  method: string;
  /** API Gateway resource template, e.g. `/customers/{customer}/queue`. */
  resource: string;
  pathParameters: Record<string, string>;
  query: Record<string, string>;
  /** Every value of each query parameter (for repeatable filters). */
  multiQuery: Record<string, string[]>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string | undefined;
  /** Absolute URL of the API root (scheme, host and stage), without a trailing slash. */
  baseUrl: string;
  principal: Principal | undefined;
}

export interface ApiResponse {
  status: number;
  /** A JSON body. */
  body?: unknown;
  /** A body sent as it is (the console's HTML, scripts and styles), its Content-Type in `headers`. */
  text?: string;
  headers?: Record<string, string>;
}

export type RouteFunction = (request: ApiRequest) => Promise<ApiResponse>;

export function toApiRequest(event: APIGatewayProxyEvent): ApiRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  let body = event.body ?? undefined;
  if (body !== undefined && event.isBase64Encoded) body = Buffer.from(body, 'base64').toString('utf8');
  const multiQuery: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    if (values) multiQuery[name] = values;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  return {
    method: event.httpMethod,
    resource: event.resource,
    pathParameters: Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => e[1] !== undefined)),
    query,
    multiQuery,
    headers,
    body: body ?? undefined,
    baseUrl: baseUrlOf(event, headers),
    principal: principalOf(event),
  };
}

/**
 * The API root as the client sees it. On API Gateway `requestContext.path` carries the stage prefix
 * (`/prod/customers/1/queue`) while `path` does not; behind a custom domain both are equal.
 */
function baseUrlOf(event: APIGatewayProxyEvent, headers: Record<string, string>): string {
  const host = headers.host ?? event.requestContext?.domainName ?? 'localhost';
  const proto = headers['x-forwarded-proto'] ?? (host.startsWith('localhost') || host.startsWith('127.') ? 'http' : 'https');
  const fullPath = event.requestContext?.path ?? event.path;
  const prefix = fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : '';
  return `${proto}://${host}${prefix}`.replace(/\/$/, '');
}

function principalOf(event: APIGatewayProxyEvent): Principal | undefined {
  const authorizer = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!authorizer || typeof authorizer.key !== 'string') return undefined;
  const customer = authorizer.customer;
  return {
    key: authorizer.key,
    admin: authorizer.admin === true || authorizer.admin === 'true',
    ...(customer !== undefined && customer !== '' ? { customer: Number(customer) } : {}),
    // The authorizer sends every privilege of an admin key, in canonical order (domain/auth.ts).
    privileges: normalisePrivileges(
      String(authorizer.privileges ?? '')
        .split(',')
        .filter(Boolean),
    ),
  };
}

export function renderResponse(response: ApiResponse): APIGatewayProxyResult {
  return {
    statusCode: response.status,
    headers: {
      ...(response.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...response.headers,
    },
    body: response.text ?? (response.body === undefined ? '' : JSON.stringify(response.body)),
  };
}

/** An HttpError or a domain error as its JSON error body; anything else is a logged 500. */
export function renderError(error: unknown): APIGatewayProxyResult {
  const known = toHttpError(error);
  if (known) return errorResponse(known.statusCode, known.message, known.options);
  logger.error('unhandled error', { error: error as Error });
  return errorResponse(500, 'The service failed to handle this request; it has been logged.');
}

/**
 * Wraps route functions into one Lambda handler. `routes` maps each route of ROUTES served by
 * `fn` (its `METHOD resource` key) to the function serving it, so one entry point can serve several
 * routes that need the same permissions; a route missing, misspelt or served by another function
 * does not compile.
 */
export function apiHandler<F extends ApiFunctionName>(_fn: F, routes: { [K in RouteKeyOf<F>]: RouteFunction }) {
  const byKey: Partial<Record<string, RouteFunction>> = routes;
  const handle = async (event: APIGatewayProxyEvent, _context: Context): Promise<APIGatewayProxyResult> => {
    // Reset after every invocation by injectLambdaContext's `resetKeys`.
    logger.appendKeys({ resource: event.resource, method: event.httpMethod });
    const request = toApiRequest(event);
    // HEAD is GET without the body (RFC 9110 §9.3.2): same route, status and headers.
    const head = request.method === 'HEAD';
    const route = byKey[`${head ? 'GET' : request.method} ${request.resource}`];
    if (!route) return errorResponse(405, `${request.method} is not supported on ${request.resource}`);
    // Every route taking a body refuses one that is not JSON alike, before its own checks.
    const body = findRoute(request.method, request.resource)?.body;
    let result: APIGatewayProxyResult;
    try {
      if (body) requireJsonBody(body, request);
      result = renderResponse(await route(request));
    } catch (error) {
      result = renderError(error);
    }
    return withCors(head ? { ...result, body: '' } : result, request.headers.origin);
  };
  return middy(handle).use(injectLambdaContext(logger, { resetKeys: true }));
}

/**
 * Lets a browser on an allowed origin (`CORS_ALLOWED_ORIGINS`, a stack prop) read the answer; API
 * Gateway answers the preflight. Nothing is added for other origins or when none is configured.
 */
export function withCors(result: APIGatewayProxyResult, origin: string | undefined): APIGatewayProxyResult {
  if (!origin || !settings.corsAllowedOrigins().includes(origin)) return result;
  return {
    ...result,
    headers: { ...result.headers, 'Access-Control-Allow-Origin': origin, Vary: 'Origin' },
  };
}

/** A path id (customer, batch, space) by its rule in path-ids.ts: anything else names nothing (404). */
export function intParam(request: ApiRequest, name: 'customer' | 'batch' | 'space'): number {
  const raw = request.pathParameters[name] ?? '';
  const id = pathIdValue(raw);
  if (id === undefined) throw new HttpError(404, `No ${name} '${raw.slice(0, 100)}' exists: a ${name} id is ${PATH_ID_RULE}.`);
  return id;
}
