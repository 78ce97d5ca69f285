/**
 * The API's OpenAPI 3.1 document, generated — never written by hand — from the route table
 * (paths, methods, who may call them) and the zod schemas (bodies, responses, parameters).
 * `npm run openapi` writes it to openapi.json; GET /openapi.json serves that file with the
 * request's base URL as its server. What the route table cannot say (a summary, the parameters
 * and the status codes particular to a route) is in OPERATIONS, one entry per route: a route
 * without one, or an entry without a route, does not compile.
 */
import { z } from 'zod';
import { version } from '../../package.json';
import { DEFAULTS } from '../config/resources';
import { ROUTES, type Route, type RouteKey, routeKey } from '../config/routes';
import { assetSchema } from '../domain/validation';
import { newKeySchema } from './key-body';
import { PARAMETERS, type ParameterName, type ParameterSpec } from './parameter-schemas';
import { titleFor } from './problem';
import { JSON_MEDIA_TYPES } from './request-bodies';
import * as S from './resource-schemas';
import { submittedEnvelopeSchema } from './submit-body';

type JsonObject = Record<string, unknown>;

/** The server of the built file; GET /openapi.json replaces it with the caller's base URL. */
export const SERVER_PLACEHOLDER = {
  url: 'https://{apiId}.execute-api.{region}.amazonaws.com/{stage}',
  description: 'The ApiUrl output of the deployed stack (npm start: http://localhost:3000).',
  variables: { apiId: { default: 'abc123' }, region: { default: 'us-east-1' }, stage: { default: 'prod' } },
};

const submittedCollectionSchema = z
  .object({
    ...submittedEnvelopeSchema.shape,
    member: z
      .array(assetSchema)
      .min(1)
      .describe(`The images; at most MAX_BATCH_SIZE (default ${DEFAULTS.maxBatchSize}), each space + id once.`),
  })
  .describe('A hydra Collection of vocab:Image to register. Any member problem answers 422 listing every one; nothing is written.');

const RESPONSE_SCHEMAS = {
  Batch: S.batchSchema,
  BatchCollection: S.batchCollectionSchema,
  Image: S.imageSchema,
  ImageCollection: S.imageCollectionSchema,
  CustomerQueue: S.customerQueueSchema,
  Queue: S.queueSchema,
  Caller: S.callerSchema,
  Key: S.keySchema,
  KeyCollection: S.keyCollectionSchema,
  TestResult: S.testResultSchema,
  QueueLoad: S.loadPageSchema,
  QueueStatus: S.statusPageSchema,
  Error: S.errorSchema,
};
const REQUEST_SCHEMAS = { SubmittedImage: assetSchema, SubmittedCollection: submittedCollectionSchema, NewKey: newKeySchema };

type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS | 'OpenApiDocument';
type RequestSchemaName = keyof typeof REQUEST_SCHEMAS;

const HEADERS = {
  Location: { description: 'URL of the resource created (or found again).', schema: { type: 'string', format: 'uri' } },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
  'WWW-Authenticate': { description: 'The schemes accepted: `Basic realm="image-queue", Bearer`.', schema: { type: 'string' } },
  'Cache-Control': { description: 'How long the answer may be reused.', schema: { type: 'string' } },
};
type HeaderName = keyof typeof HEADERS;

/** Headers every answer with this status carries. */
const STATUS_HEADERS: Partial<Record<number, HeaderName[]>> = { 401: ['WWW-Authenticate'], 429: ['Retry-After'], 503: ['Retry-After'] };

/** Why each error status is answered, unless a route says more precisely. */
const ERROR_REASONS: Record<number, string> = {
  400: 'A query parameter, header or body is malformed.',
  401: 'Credentials are missing or not valid.',
  403: "The key may not do this: another customer's resource, a privilege it lacks, or an admin-only route.",
  404: 'No such resource (an id that is not an integer, or not one of this customer’s).',
  409: 'The resource is not in a state that allows this.',
  413: `The request body is larger than MAX_BODY_BYTES (default ${DEFAULTS.maxBodyBytes}).`,
  415: 'The body is not JSON: Content-Type must be application/json or application/ld+json.',
  422: 'The body is well-formed JSON but its content is not valid.',
  429: "Over the key's rate or quota (API Gateway usage plans), or the stage's throttle.",
  500: 'The service failed; the error is logged.',
  503: 'The service cannot take this now.',
};

interface ResponseSpec {
  description: string;
  schema?: ResponseSchemaName;
  headers?: HeaderName[];
  /** A body that is not JSON (the console's files): the media types it may have, each a string. */
  textTypes?: string[];
}

interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tag: keyof typeof TAGS;
  /** Query and header parameters (path parameters come from the resource template). */
  parameters?: ParameterName[];
  /** The body of a route with a `body` in ROUTES (which says whether it is required); JSON_MEDIA_TYPES. */
  body?: { schema: RequestSchemaName; description: string };
  /** The success answers, and the errors particular to this route: a string says why, with the Error body. */
  responses: Partial<Record<number, ResponseSpec | string>>;
}

const TAGS = {
  queue: 'The service-wide and per-customer queues.',
  batches: 'Submitting batches and watching them.',
  images: 'Images, in batches and on their own.',
  operator: 'Load over time and the queue now (Scale’s queue services).',
  keys: "A customer's API keys (admin keys only).",
  meta: 'This document.',
  console: 'The browser console: a page that signs in with a key and calls this API.',
};

const PAGING: ParameterName[] = ['page', 'pageSize'];

const batchList = (operationId: string, summary: string, description: string): OperationSpec => ({
  operationId,
  summary,
  description,
  tag: 'batches',
  parameters: PAGING,
  responses: { 200: { description: 'A page of batches.', schema: 'BatchCollection' } },
});

const imageList = (operationId: string, summary: string, parameters: ParameterName[] = PAGING): OperationSpec => ({
  operationId,
  summary,
  tag: 'images',
  parameters,
  responses: { 200: { description: 'A page of images.', schema: 'ImageCollection' } },
});

const submit = (operationId: string, summary: string, description: string): OperationSpec => ({
  operationId,
  summary,
  description,
  tag: 'batches',
  parameters: ['idempotencyKey'],
  body: { schema: 'SubmittedCollection', description: 'The images to register.' },
  responses: {
    201: { description: 'The batch was created.', schema: 'Batch', headers: ['Location'] },
    200: { description: 'An earlier POST with the same Idempotency-Key created this batch.', schema: 'Batch', headers: ['Location'] },
    400: 'The body is empty, not JSON or has no `member` array, or its `@context`, `@type` or Idempotency-Key is malformed.',
    409: 'The batch of this Idempotency-Key is still being created; retry.',
    413: ERROR_REASONS[413] as string,
    422:
      'A member is not valid (every problem is listed in `errors`), there are none or too many, ' +
      'or the Idempotency-Key was used with another body. Nothing was queued.',
    503: "The customer's queue would exceed MAX_QUEUE_SIZE. Nothing was queued.",
  },
});

/** One entry per route of ROUTES, keyed `METHOD resource`: a route missing or unknown does not compile. */
const OPERATIONS: Record<RouteKey, OperationSpec> = {
  'GET /queue': {
    operationId: 'getQueue',
    summary: 'The service-wide queue depths',
    tag: 'queue',
    responses: { 200: { description: 'vocab:Queue (depths reused for a few seconds).', schema: 'Queue', headers: ['Cache-Control'] } },
  },
  'GET /key': {
    operationId: 'getCaller',
    summary: 'The key making the request',
    description: 'Its customer and privileges (any valid key may ask, whatever its privileges).',
    tag: 'keys',
    responses: { 200: { description: 'vocab:Caller.', schema: 'Caller' } },
  },
  'GET /queue/load': {
    operationId: 'getQueueLoad',
    summary: 'Queue load over time',
    description:
      'One point per sample time (every minute) at which the selected customers had any load, summed over them and the selected queues.',
    tag: 'operator',
    parameters: ['started', 'ended', 'loadCustomer', 'queue', 'operatorPage', 'loadPageSize'],
    responses: {
      200: { description: 'A page of load points.', schema: 'QueueLoad' },
      400: 'A parameter is malformed or repeated, `ended` is before `started`, or the range is over 31 days.',
      403: 'A customer key asked for another customer, or lacks the read privilege.',
    },
  },
  'GET /queue/status': {
    operationId: 'getQueueStatus',
    summary: 'The queue now, by customer and queue',
    tag: 'operator',
    parameters: ['operatorPage', 'statusPageSize'],
    responses: { 200: { description: 'Customer and queue pairs with unfinished members, largest first.', schema: 'QueueStatus' } },
  },
  'GET /customers/{customer}/queue': {
    operationId: 'getCustomerQueue',
    summary: "A customer's queue",
    tag: 'queue',
    responses: { 200: { description: 'vocab:CustomerQueue.', schema: 'CustomerQueue' } },
  },
  'POST /customers/{customer}/queue': submit(
    'submitBatch',
    'Submit a batch',
    'Creates a batch of the images on the main queue and answers at once.',
  ),
  'POST /customers/{customer}/queue/priority': submit(
    'submitPriorityBatch',
    'Submit a batch to the priority queue',
    'As POST …/queue, on the priority queue, which is processed ahead of the main one. GET here answers 405.',
  ),
  'GET /customers/{customer}/queue/batches': batchList('listBatches', 'All batches', 'Every batch of the customer, most recent first.'),
  'GET /customers/{customer}/queue/active': batchList(
    'listActiveBatches',
    'Active batches',
    'Batches started (a member picked up) and not finished.',
  ),
  'GET /customers/{customer}/queue/recent': batchList(
    'listRecentBatches',
    'Recent batches',
    'Batches finished and not superseded, most recently finished first.',
  ),
  'GET /customers/{customer}/queue/images': {
    ...imageList('listQueuedImages', 'Images waiting or in progress', [...PAGING, 'order']),
    description: 'Across all batches, in queue order.',
  },
  'GET /customers/{customer}/queue/batches/{batch}': {
    operationId: 'getBatch',
    summary: 'A batch',
    tag: 'batches',
    parameters: ['wait'],
    responses: { 200: { description: 'vocab:Batch.', schema: 'Batch' } },
  },
  'DELETE /customers/{customer}/queue/batches/{batch}': {
    operationId: 'cancelBatch',
    summary: 'Cancel a batch',
    description: 'Members not yet picked up become `cancelled`; members being processed finish. Idempotent.',
    tag: 'batches',
    responses: {
      200: { description: 'The batch, cancelled.', schema: 'Batch' },
      409: 'The batch has already finished.',
    },
  },
  'POST /customers/{customer}/queue/batches/{batch}/retry': {
    operationId: 'retryBatch',
    summary: "Retry a batch's errors",
    description: 'A new batch of the error members, on the same queue; `retryOf` and `retries` link the two.',
    tag: 'batches',
    responses: {
      201: { description: 'The new batch.', schema: 'Batch', headers: ['Location'] },
      409: 'The batch has no error members.',
      503: "The customer's queue would exceed MAX_QUEUE_SIZE. Nothing was queued.",
    },
  },
  'GET /customers/{customer}/queue/batches/{batch}/images': imageList('listBatchImages', 'Members of a batch, any state'),
  'GET /customers/{customer}/queue/batches/{batch}/completedImages': imageList(
    'listCompletedImages',
    'Members of a batch ingested successfully',
  ),
  'GET /customers/{customer}/queue/batches/{batch}/errorImages': imageList(
    'listErrorImages',
    'Members of a batch that failed, each with its error',
  ),
  'POST /customers/{customer}/queue/batches/{batch}/test': {
    operationId: 'testBatch',
    summary: 'Re-evaluate a batch',
    description: 'Re-evaluates `superseded` and whether the batch has finished.',
    tag: 'batches',
    responses: { 200: { description: 'Whether anything changed.', schema: 'TestResult' } },
  },
  'GET /customers/{customer}/spaces/{space}/images/{image}': {
    operationId: 'getImage',
    summary: 'An image',
    description: 'The asset as submitted in its newest batch (right after a submit too).',
    tag: 'images',
    responses: { 200: { description: 'vocab:Image.', schema: 'Image' } },
  },
  'GET /openapi.json': {
    operationId: 'getOpenApi',
    summary: 'This document',
    description: 'Generated from the route table and the schemas; `servers` is the URL it was fetched from.',
    tag: 'meta',
    responses: { 200: { description: 'OpenAPI 3.1.', schema: 'OpenApiDocument' } },
  },
  'GET /customers/{customer}/keys': {
    operationId: 'listKeys',
    summary: "A customer's API keys",
    tag: 'keys',
    responses: { 200: { description: 'Every key of the customer with its privileges (no secrets).', schema: 'KeyCollection' } },
  },
  'POST /customers/{customer}/keys': {
    operationId: 'createKey',
    summary: 'Create an API key',
    tag: 'keys',
    body: { schema: 'NewKey', description: 'The privileges of the key; no body for all three.' },
    responses: {
      201: { description: 'The key with its secret, shown this once only.', schema: 'Key', headers: ['Location', 'Cache-Control'] },
      400: 'The body is not JSON.',
      422: 'The body is not `{"privileges": [...]}` with known privileges. Nothing was written.',
    },
  },
  'GET /customers/{customer}/keys/{key}': {
    operationId: 'getKey',
    summary: 'An API key',
    tag: 'keys',
    responses: { 200: { description: 'The key with its privileges (no secret).', schema: 'Key' } },
  },
  'GET /console': {
    operationId: 'getConsole',
    summary: 'The browser console',
    description:
      'An HTML page (text/html, with a strict Content-Security-Policy) that asks for a key and secret, ' +
      'keeps them in the tab’s sessionStorage and calls this API with them. It holds no data itself.',
    tag: 'console',
    responses: { 200: { description: 'The page.', headers: ['Cache-Control'], textTypes: ['text/html'] } },
  },
  'GET /console/assets/{asset}': {
    operationId: 'getConsoleAsset',
    summary: 'A script or stylesheet of the console',
    description: 'The built assets the page loads; their names carry a content hash, so they may be cached for a year.',
    tag: 'console',
    responses: {
      200: { description: 'The asset: a script or a stylesheet.', headers: ['Cache-Control'], textTypes: ['text/javascript', 'text/css'] },
      404: 'No asset of this name.',
    },
  },
  'DELETE /customers/{customer}/keys/{key}': {
    operationId: 'revokeKey',
    summary: 'Revoke an API key',
    description: 'The key is refused from the next request.',
    tag: 'keys',
    responses: { 204: { description: 'Revoked.' } },
  },
};

/** Path parameter names of a resource template, in order. */
function pathParameters(resource: string): string[] {
  return [...resource.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

/**
 * The error statuses any route answers by what it is, whatever its handler: 429 and 500 from
 * the gateway; 401/403 from the authorizer; 404 for an id that names nothing; 400 for malformed
 * parameters or bodies; 415 for a body that is not JSON.
 */
function impliedErrors(route: Route, spec: Pick<OperationSpec, 'parameters' | 'body'>): number[] {
  return [
    ...(spec.parameters?.length || spec.body ? [400] : []),
    ...(route.body ? [415] : []),
    ...(route.access === 'public' ? [] : [401, 403]),
    ...(pathParameters(route.resource).length > 0 ? [404] : []),
    429,
    500,
  ];
}

function accessText(route: Route): string {
  const privilege = route.privilege ? ` with the \`${route.privilege}\` privilege` : '';
  switch (route.access) {
    case 'public':
      return 'No credentials needed.';
    case 'customer':
      return `Credentials: a key of this customer${privilege}, or an admin key.`;
    case 'authenticated':
      return `Credentials: any key${privilege} (a customer key sees its own customer only), or an admin key.`;
    case 'admin':
      return 'Credentials: an admin key.';
  }
}

/** zod spells `format: date-time` out as a 400-character pattern too; the format says it. */
function dropDateTimePattern({ jsonSchema }: { jsonSchema: JsonObject }): void {
  if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
}

/** JSON Schema of one zod schema, without the `$schema` the document's `jsonSchemaDialect` already says. */
function jsonSchema(schema: z.core.$ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, override: dropDateTimePattern }) as JsonObject;
  return rest;
}

/** components.schemas of named zod schemas, each referring to the others by `$ref`. */
function componentSchemas(schemas: Record<string, z.core.$ZodType>, io: 'input' | 'output'): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}`, override: dropDateTimePattern });
  // zod gives each an `$id` with a fragment, which JSON Schema 2020-12 does not allow.
  return Object.fromEntries(Object.entries(out).map(([id, { $schema: _dialect, $id: _id, ...schema }]) => [id, schema as JsonObject]));
}

function parameterObject(key: string, spec: ParameterSpec): JsonObject {
  return {
    name: spec.name ?? key,
    in: spec.in,
    description: spec.description,
    required: spec.required ?? false,
    ...(spec.repeatable ? { style: 'form', explode: true } : {}),
    // A repeatable parameter's schema is one value's: on the wire it is an array of them.
    schema: spec.repeatable ? { type: 'array', items: jsonSchema(spec.schema, 'input') } : jsonSchema(spec.schema, 'input'),
  };
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const headerRefs = (names: HeaderName[] = []) =>
  names.length ? { headers: Object.fromEntries(names.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {};
const errorResponseName = (status: number) => titleFor(status).replace(/\s/g, '');

function responseObject(status: number, spec: ResponseSpec | string | undefined, withBody: boolean): JsonObject {
  if (spec === undefined) return { $ref: `#/components/responses/${errorResponseName(status)}` };
  const { description, schema, headers, textTypes } =
    typeof spec === 'string' ? { description: spec, schema: 'Error', headers: STATUS_HEADERS[status], textTypes: undefined } : spec;
  const json = schema === 'OpenApiDocument' ? { type: 'object', description: 'An OpenAPI 3.1 document.' } : schema && schemaRef(schema);
  const content = json
    ? { 'application/json': { schema: json } }
    : textTypes && Object.fromEntries(textTypes.map((type) => [type, { schema: { type: 'string' } }]));
  return {
    description,
    ...headerRefs(headers),
    ...(withBody && content ? { content } : {}),
  };
}

function operationObject(route: Route, spec: OperationSpec, head: boolean): JsonObject {
  const codes = [...new Set([...Object.keys(spec.responses).map(Number), ...impliedErrors(route, spec)])].sort((a, b) => a - b);
  const description = [spec.description, head ? 'As GET, without a body.' : undefined, accessText(route)].filter(Boolean).join('\n\n');
  const body = head ? undefined : spec.body;
  return {
    operationId: head ? `${spec.operationId}Head` : spec.operationId,
    summary: head ? `${spec.summary} (headers only)` : spec.summary,
    description,
    tags: [spec.tag],
    'x-access': route.access,
    ...(route.privilege ? { 'x-privilege': route.privilege } : {}),
    security: route.access === 'public' ? [] : [{ basicAuth: [] }, { bearerAuth: [] }],
    ...(spec.parameters?.length ? { parameters: spec.parameters.map((p) => ({ $ref: `#/components/parameters/${p}` })) } : {}),
    ...(body
      ? {
          requestBody: {
            description: body.description,
            required: route.body === 'required',
            content: Object.fromEntries(JSON_MEDIA_TYPES.map((type) => [type, { schema: schemaRef(body.schema) }])),
          },
        }
      : {}),
    // HEAD answers carry no body, so their errors are spelt out rather than shared with GET's.
    responses: Object.fromEntries(
      codes.map((code) => [String(code), responseObject(code, spec.responses[code] ?? (head ? ERROR_REASONS[code] : undefined), !head)]),
    ),
  };
}

function paths(): Record<string, JsonObject> {
  const items: Record<string, JsonObject> = {};
  for (const route of ROUTES) {
    const spec = OPERATIONS[routeKey(route)];
    if (!route.body !== !spec.body)
      throw new Error(`${route.method} ${route.resource}: a body in ROUTES needs one in OPERATIONS, and only then`);
    const item = items[route.resource] ?? {
      parameters: pathParameters(route.resource).map((p) => ({ $ref: `#/components/parameters/${p}` })),
    };
    items[route.resource] = item;
    item[route.method.toLowerCase()] = operationObject(route, spec, false);
    // API Gateway and the local runtime answer HEAD on every GET route.
    if (route.method === 'GET') item.head = operationObject(route, spec, true);
  }
  return items;
}

const ERROR_STATUSES = Object.keys(ERROR_REASONS).map(Number);

/** The built file's text (`npm run openapi`); the unit tests compare the committed file with it. */
export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

/** The whole document; `server` is the API root it describes (the placeholder in the built file). */
export function buildOpenApi(server: { url: string } = SERVER_PLACEHOLDER): JsonObject {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'image-queue',
      version,
      summary: 'A DLCS-style image registration queue.',
      description: [
        'Submit a collection of images, get a Batch back at once, and watch it while workers ingest every image.',
        'Bodies are JSON-LD (`@context`, `@id`, `@type`); every error is the `Error` body, API Gateway’s own included. ' +
          'A method a path does not allow answers 405 with `Allow`; an unknown path 404. ' +
          'A request over API Gateway’s limits may get its 413, 502 or 504.',
        'Collections are hydra `Collection` pages: follow `view.next`.',
        'Generated from the route table and the zod schemas (`npm run openapi`); never edit it by hand.',
      ].join('\n\n'),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [server],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths: paths(),
    components: {
      schemas: { ...componentSchemas(RESPONSE_SCHEMAS, 'output'), ...componentSchemas(REQUEST_SCHEMAS, 'input') },
      parameters: Object.fromEntries(Object.entries(PARAMETERS).map(([key, spec]) => [key, parameterObject(key, spec)])),
      headers: HEADERS,
      responses: Object.fromEntries(
        ERROR_STATUSES.map((status) => [errorResponseName(status), responseObject(status, ERROR_REASONS[status], true)]),
      ),
      securitySchemes: {
        basicAuth: { type: 'http', scheme: 'basic', description: 'The key as user name, its secret as password (what DLCS clients send).' },
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token `key:secret`.' },
      },
    },
  };
}
