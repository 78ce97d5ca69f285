/**
 * Emulates API Gateway (REST API, Lambda proxy integration) in front of the Lambda handlers:
 * resource matching (404/405), the body size limit (413), the TOKEN authorizer (401/403, with an
 * optional per-token cache), the v1 proxy event, and writing the proxy result back (502 when the
 * handler fails).
 *
 * The local server is mounted at the root (no stage prefix): `requestContext.stage` is `local` and
 * `requestContext.path` equals `path`, so a handler that derives its base URL as
 * `${X-Forwarded-Proto}://${Host}${requestContext.path minus path}` gets `http://127.0.0.1:PORT`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { API_TIMEOUT_SECONDS, DEFAULTS, ENV } from '../lambdas/config/resources';
import { allowedMethods, findRoute, matchResource, type Route, withHead } from '../lambdas/config/routes';
import { settings } from '../lambdas/config/settings';
import { errorResponse, WWW_AUTHENTICATE } from '../lambdas/http/problem';
import { consoleLogger, type HandlerLoader, invokeFunction, type RuntimeLogger } from './handlers';
import { type LimitVerdict, type LocalUsageLimits, UsageMeter } from './usage-limits';

export const LOCAL_STAGE = 'local';
export const LOCAL_API_ID = 'local';
export const LOCAL_ACCOUNT = '000000000000';
/** The 429 details, as the stack's gateway responses word them (lib/constructs/api.ts). */
export const THROTTLE_DETAIL = 'Too many requests; retry later.';
export const QUOTA_DETAIL = "This key's request quota for the period is spent.";
/** API Gateway's integration timeout (29 s): a slower handler answers 504. */
export const INTEGRATION_TIMEOUT_MS = API_TIMEOUT_SECONDS * 1000;

export interface HttpAdapterOptions {
  loadHandler: HandlerLoader;
  /** Largest body in bytes; default `process.env.MAX_BODY_BYTES` at request time, else DEFAULTS.maxBodyBytes. */
  maxBodyBytes?: number;
  /** Seconds an authorizer result is reused for the same token (API Gateway's cache; default 0 = off, as the stack). */
  authorizerCacheTtlSeconds?: number;
  /** Per-key throttling and quotas, as the stack's usage plans (`false`: none). */
  usageLimits?: LocalUsageLimits | false;
  integrationTimeoutMs?: number;
  /** Prefix of the fake function names in the Lambda context. */
  functionPrefix?: string;
  logger?: RuntimeLogger;
}

type Multi = Record<string, string[]>;

class Reject extends Error {
  constructor(readonly result: APIGatewayProxyResult) {
    super(`rejected with ${result.statusCode}`);
  }
}

// ---- request → event ----------------------------------------------------------------------------

const TEXT_TYPES = [/^text\//i, /^application\/(json|xml|javascript|x-www-form-urlencoded|ld\+json|problem\+json)\b/i, /\+(json|xml)\b/i];

export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return true;
  return TEXT_TYPES.some((re) => re.test(contentType));
}

/** Headers with the client's own casing, as API Gateway passes them (last value wins in `headers`). */
function collectHeaders(req: IncomingMessage): { headers: Record<string, string>; multi: Multi } {
  const headers: Record<string, string> = {};
  const multi: Multi = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    const existing = Object.keys(multi).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    multi[existing] ??= [];
    multi[existing].push(value);
    headers[existing] = value;
  }
  return { headers, multi };
}

function addHeaderIfAbsent(headers: Record<string, string>, multi: Multi, name: string, value: string): void {
  if (Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase())) return;
  headers[name] = value;
  multi[name] = [value];
}

export function headerValue(headers: Record<string, string | undefined> | null, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function queryParameters(url: URL): { single: Record<string, string> | null; multi: Multi | null } {
  const single: Record<string, string> = {};
  const multi: Multi = {};
  for (const [key, value] of url.searchParams) {
    multi[key] ??= [];
    multi[key].push(value);
    single[key] = value;
  }
  return Object.keys(single).length > 0 ? { single, multi } : { single: null, multi: null };
}

export interface BuildEventInput {
  req: IncomingMessage;
  url: URL;
  resource: string;
  pathParameters: Record<string, string>;
  body: Buffer | null;
  requestId: string;
  authorizer?: Record<string, unknown> | null;
}

export function buildProxyEvent(input: BuildEventInput): APIGatewayProxyEvent {
  const { req, url, resource, pathParameters, body, requestId } = input;
  const { headers, multi } = collectHeaders(req);
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const host = headerValue(headers, 'host') ?? `127.0.0.1:${req.socket.localPort}`;
  // What API Gateway adds in front of the integration.
  addHeaderIfAbsent(headers, multi, 'X-Forwarded-For', sourceIp);
  addHeaderIfAbsent(headers, multi, 'X-Forwarded-Proto', 'http');
  addHeaderIfAbsent(headers, multi, 'X-Forwarded-Port', String(req.socket.localPort ?? ''));
  const { single, multi: multiQuery } = queryParameters(url);
  const contentType = headerValue(headers, 'content-type');
  const text = isTextContentType(contentType);
  const hasBody = body !== null && body.length > 0;
  const method = (req.method ?? 'GET').toUpperCase();
  const now = Date.now();
  return {
    resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: multi,
    queryStringParameters: single,
    multiValueQueryStringParameters: multiQuery,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: hasBody ? (text ? body.toString('utf8') : body.toString('base64')) : null,
    isBase64Encoded: hasBody && !text,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: LOCAL_API_ID,
      authorizer: input.authorizer ?? null,
      domainName: host,
      domainPrefix: host.split('.')[0]?.split(':')[0] ?? host,
      extendedRequestId: requestId,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: headerValue(headers, 'user-agent') ?? null,
        userArn: null,
      },
      path: url.pathname,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTime: new Date(now).toUTCString(),
      requestTimeEpoch: now,
      resourceId: LOCAL_API_ID,
      resourcePath: resource,
      stage: LOCAL_STAGE,
    },
  };
}

// ---- authorizer ---------------------------------------------------------------------------------

export function methodArn(method: string, path: string): string {
  return `arn:aws:execute-api:${LOCAL_STAGE}:${LOCAL_ACCOUNT}:${LOCAL_API_ID}/${LOCAL_STAGE}/${method}/${path.replace(/^\//, '')}`;
}

/** IAM-style wildcard match: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    ignoreCase ? 'is' : 's',
  );
  return re.test(value);
}

type Statement = {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
};

const list = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

function statementApplies(s: Statement, action: string, resource: string): boolean {
  const actions = list(s.Action);
  const notActions = list(s.NotAction);
  const actionOk = actions
    ? actions.some((a) => wildcardMatch(a, action, true))
    : notActions
      ? !notActions.some((a) => wildcardMatch(a, action, true))
      : false;
  const resources = list(s.Resource);
  const notResources = list(s.NotResource);
  const resourceOk = resources
    ? resources.some((r) => wildcardMatch(r, resource))
    : notResources
      ? !notResources.some((r) => wildcardMatch(r, resource))
      : false;
  return actionOk && resourceOk;
}

/** True when the policy allows `execute-api:Invoke` on `arn` (an explicit Deny wins). */
export function policyAllows(policy: APIGatewayAuthorizerResult['policyDocument'] | undefined, arn: string): boolean {
  const raw = (policy as { Statement?: Statement | Statement[] } | undefined)?.Statement;
  const statements = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  let allowed = false;
  for (const s of statements) {
    if (!statementApplies(s, 'execute-api:Invoke', arn)) continue;
    if (s.Effect?.toLowerCase() === 'deny') return false;
    if (s.Effect?.toLowerCase() === 'allow') allowed = true;
  }
  return allowed;
}

interface CachedAuthorization {
  result: APIGatewayAuthorizerResult;
  expires: number;
}

// ---- the listener -------------------------------------------------------------------------------

function send(res: ServerResponse, result: APIGatewayProxyResult, requestId: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const headers = new Map<string, string | string[]>();
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers.set(k, v.map(String));
  for (const [k, v] of Object.entries(result.headers ?? {})) {
    const existing = headers.get(k);
    headers.set(k, existing ? [...(Array.isArray(existing) ? existing : [existing]), String(v)] : String(v));
  }
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  headers.set('x-amzn-RequestId', requestId);
  const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  res.statusCode = result.statusCode;
  for (const [k, v] of headers) {
    if (k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding') continue;
    res.setHeader(k, v);
  }
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

function maxBodyBytes(options: HttpAdapterOptions): number {
  if (options.maxBodyBytes !== undefined) return options.maxBodyBytes;
  const fromEnv = Number(process.env[ENV.maxBodyBytes]);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULTS.maxBodyBytes;
}

/**
 * The largest too-large body the local gateway still reads (and discards) before answering 413.
 * API Gateway answers 413 to a body of any size over its 10 MB, and a client still sending when
 * the server answers and closes (Node's fetch, curl) reports a reset (`fetch failed`, ECONNRESET)
 * instead of the answer: so such a body is read to its end first, which costs time (1 to 4 s for
 * 64 MiB on a busy two-core machine) but no memory. The bound keeps a runaway or endless
 * (chunked) upload from holding the process: a body declared or sent past it gets the 413 at once
 * and its connection is closed, which a client still sending mostly sees as that reset. 64 MiB is
 * four times a 200,000-member submit (16 MB), what a client that forgets to split its images
 * into batches sends.
 */
export const MAX_DRAINED_BODY_BYTES = 64 * 1024 * 1024;

/** A 413 for a body over the limit: read to its end (the connection stays usable) or cut off (`close`). */
class BodyTooLarge extends Reject {
  constructor(
    limit: number,
    readonly close: boolean,
  ) {
    super(errorResponse(413, `The request body is larger than ${limit} bytes.`));
  }
}

/**
 * Reads the body. One over `limit` is still read to its end, keeping none of it, and only then
 * answered 413, as API Gateway reads a request before it answers (see MAX_DRAINED_BODY_BYTES).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const drainLimit = Math.max(limit, MAX_DRAINED_BODY_BYTES);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > drainLimit) return Promise.reject(new BodyTooLarge(limit, true));
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > drainLimit) {
        req.off('data', onData);
        req.pause();
        fail(new BodyTooLarge(limit, true));
      } else if (size > limit) {
        // Too large already: read on to the end, keeping nothing.
        chunks.length = 0;
      } else {
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.once('end', () => (size > limit ? fail(new BodyTooLarge(limit, false)) : done(Buffer.concat(chunks))));
    req.once('error', fail);
  });
}

function isValidProxyResult(value: unknown): value is APIGatewayProxyResult {
  if (!value || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.statusCode === 'number' &&
    Number.isInteger(r.statusCode) &&
    (r.body === undefined || r.body === null || typeof r.body === 'string')
  );
}

export function createApiListener(options: HttpAdapterOptions): RequestListener & { clearAuthorizerCache(): void } {
  const logger = options.logger ?? consoleLogger;
  const prefix = options.functionPrefix ?? 'local';
  const cache = new Map<string, CachedAuthorization>();
  const meter = options.usageLimits ? new UsageMeter(options.usageLimits) : undefined;

  /** API Gateway answers 429 when a bucket is empty or the quota is spent. */
  function refuseOverLimit(verdict: LimitVerdict): void {
    if (verdict.ok) return;
    throw new Reject(
      errorResponse(429, verdict.reason === 'quota' ? QUOTA_DETAIL : THROTTLE_DETAIL, {
        headers: { 'Retry-After': verdict.reason === 'quota' ? '3600' : '1' },
      }),
    );
  }

  async function authorize(req: IncomingMessage, route: Route, path: string, requestId: string) {
    const unauthorized = (detail: string) => new Reject(errorResponse(401, detail, { headers: { 'WWW-Authenticate': WWW_AUTHENTICATE } }));
    const token = req.headers.authorization;
    if (!token) throw unauthorized('Credentials are required.');
    // The ARN of the method called, as API Gateway builds it (HEAD for a HEAD request).
    const arn = methodArn((req.method ?? route.method).toUpperCase(), path);
    const ttl = (options.authorizerCacheTtlSeconds ?? 0) * 1000;
    let result = ttl > 0 ? cache.get(token) : undefined;
    if (result && result.expires <= Date.now()) {
      cache.delete(token);
      result = undefined;
    }
    const started = Date.now();
    if (!result) {
      const event: APIGatewayTokenAuthorizerEvent = { type: 'TOKEN', authorizationToken: token, methodArn: arn };
      let output: APIGatewayAuthorizerResult;
      try {
        const handler = await options.loadHandler('authorizer');
        output = await invokeFunction<APIGatewayAuthorizerResult>('authorizer', handler, event, { prefix });
      } catch (err) {
        if ((err as Error)?.message === 'Unauthorized') throw unauthorized('The credentials are not valid.');
        logger.error(`authorizer failed (request ${requestId})`, err);
        throw new Reject(errorResponse(500, 'The authorizer failed.'));
      }
      if (!output || typeof output !== 'object' || !output.policyDocument) {
        logger.error(`authorizer returned no policy (request ${requestId})`, output);
        throw new Reject(errorResponse(500, 'The authorizer returned an invalid response.'));
      }
      result = { result: output, expires: Date.now() + ttl };
      if (ttl > 0) cache.set(token, result);
    }
    const { principalId, policyDocument, context, usageIdentifierKey } = result.result;
    if (!policyAllows(policyDocument, arn)) {
      // API Gateway's 403 quotes the authorizer's `denied` context value (see lib/constructs/api.ts).
      const denied = context?.denied;
      throw new Reject(errorResponse(403, typeof denied === 'string' && denied ? denied : 'These credentials do not allow this request.'));
    }
    if (meter) {
      // Methods require an API key, which the authorizer supplies (API key source AUTHORIZER).
      if (typeof usageIdentifierKey !== 'string' || usageIdentifierKey === '') {
        throw new Reject(errorResponse(403, 'The authorizer named no API key for usage metering.'));
      }
      refuseOverLimit(meter.admitKey(usageIdentifierKey, usageIdentifierKey === settings.adminUsageKey()));
    }
    // API Gateway (REST) hands context values to the integration as strings; objects are an error.
    const authorizer: Record<string, unknown> = { principalId };
    for (const [k, v] of Object.entries(context ?? {})) {
      if (v !== null && typeof v === 'object') {
        logger.error(`authorizer context value ${k} is not a string, number or boolean`);
        throw new Reject(errorResponse(500, 'The authorizer returned an invalid response.'));
      }
      authorizer[k] = v === undefined || v === null ? v : String(v);
    }
    authorizer.integrationLatency = Date.now() - started;
    return authorizer;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchResource(url.pathname);
    if (!match) throw new Reject(errorResponse(404, `No resource at ${url.pathname}.`));
    const allowed = withHead(allowedMethods().get(match.resource) ?? []);
    // API Gateway has a HEAD method next to every GET (lib/constructs/api.ts), served by the same function.
    const route = findRoute(method === 'HEAD' ? 'GET' : method, match.resource);
    if (!route) {
      throw new Reject(errorResponse(405, `${method} is not allowed on ${match.resource}.`, { headers: { Allow: allowed.join(', ') } }));
    }
    const body = await readBody(req, maxBodyBytes(options));
    if (route.access === 'public' && meter) refuseOverLimit(meter.admitPublic());
    const authorizer = route.access === 'public' ? null : await authorize(req, route, url.pathname, requestId);
    const event = buildProxyEvent({
      req,
      url,
      resource: match.resource,
      pathParameters: match.pathParameters,
      body,
      requestId,
      authorizer,
    });
    let result: unknown;
    const fn = route.fn;
    try {
      const handler = await options.loadHandler(fn);
      // The function's own timeout (FUNCTIONS), cut short by API Gateway's integration timeout.
      result = await invokeFunction(fn, handler, event, { prefix, deadlineMs: options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS });
    } catch (err) {
      logger.error(`${fn} failed on ${method} ${url.pathname} (request ${requestId})`, err);
      const timedOut = (err as Error)?.message?.startsWith('Task timed out');
      throw new Reject(timedOut ? errorResponse(504, 'Endpoint request timed out') : errorResponse(502, 'Internal server error'));
    }
    if (!isValidProxyResult(result)) {
      logger.error(`${fn} returned a malformed proxy response (request ${requestId})`, result);
      throw new Reject(errorResponse(502, 'Internal server error'));
    }
    send(res, result, requestId);
  }

  const listener = ((req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    handle(req, res, requestId).catch((err: unknown) => {
      if (err instanceof Reject) {
        // A body cut off unread (past MAX_DRAINED_BODY_BYTES): close the connection once the answer
        // is out. A drained one leaves the connection clean, so it stays open.
        const cutOff = err instanceof BodyTooLarge && err.close;
        send(res, err.result, requestId, cutOff ? { Connection: 'close' } : {});
        if (cutOff) res.once('finish', () => req.destroy());
        return;
      }
      logger.error(`local API failure (request ${requestId})`, err);
      send(res, errorResponse(500, 'Internal server error'), requestId);
    });
  }) as RequestListener & { clearAuthorizerCache(): void };
  listener.clearAuthorizerCache = () => cache.clear();
  return listener;
}
