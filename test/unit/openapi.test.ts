/**
 * The generated OpenAPI document: valid OpenAPI 3.1, one operation per route of ROUTES (and HEAD
 * beside every GET), every path parameter declared, the status codes each route can answer, the
 * committed openapi.json up to date, GET /openapi.json serving it, and the response schemas
 * accepting what the code really renders (so they cannot drift from it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { ROUTES, type RouteKey, routeKey } from '../../lambdas/config/routes';
import { emptyCounters } from '../../lambdas/domain/model';
import { loadPoint, queueStatus, zeroLoad } from '../../lambdas/domain/operator';
import { isAssetId, validateMembers } from '../../lambdas/domain/validation';
import { handler as apiRead } from '../../lambdas/handlers/api-read';
import { type ApiRequest, intParam } from '../../lambdas/http/api';
import { batchResource, collection, customerQueueResource, globalQueueResource, imageResource, pageParams } from '../../lambdas/http/hydra';
import { buildOpenApi, renderOpenApi } from '../../lambdas/http/openapi';
import { loadPageUrl, parseLoadQuery, parseStatusQuery } from '../../lambdas/http/operator-query';
import { checkedValue, PARAMETERS } from '../../lambdas/http/parameter-schemas';
import { PATH_ID_RULE, pathIdValue } from '../../lambdas/http/path-ids';
import { errorBody } from '../../lambdas/http/problem';
import * as S from '../../lambdas/http/resource-schemas';
import { aBatch, aMember } from '../support/records';

const ROOT = resolve(__dirname, '../..');
const BASE = 'https://api.example.org/prod';

interface Operation {
  parameters?: { $ref: string }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  security: unknown[];
  'x-access': string;
  'x-privilege'?: string;
}
type PathItem = { parameters: { $ref: string }[] } & Record<string, Operation>;
interface Document {
  paths: Record<string, PathItem>;
  components: { parameters: Record<string, { name: string; in: string }> };
}

const doc = buildOpenApi() as unknown as Document;
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({ path, method, item, op: item[method] as Operation })),
);
const parameterOf = (ref: { $ref: string }) => doc.components.parameters[ref.$ref.split('/').pop() as string]!;

/**
 * The validator is an ES module reading its schemas through `import.meta.url`, which Jest's
 * CommonJS transform cannot load: it runs in a Node child process instead.
 */
function validate(document: unknown): { valid: boolean; errors?: unknown } {
  const script = `import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    console.log(JSON.stringify(await new Validator().validate(JSON.parse(input))));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, input: JSON.stringify(document) });
  return JSON.parse(out.toString());
}

describe('the document', () => {
  it('is valid OpenAPI 3.1', () => {
    expect(validate(buildOpenApi())).toEqual({ valid: true });
  });

  it('is the committed openapi.json (else run `npm run openapi`)', () => {
    const committed = readFileSync(resolve(ROOT, 'openapi.json'), 'utf8');
    const upToDate = committed === renderOpenApi();
    if (!upToDate) throw new Error('openapi.json is stale: run `npm run openapi` and commit the result.');
  });

  it('has one operation per route of ROUTES, and HEAD beside every GET only', () => {
    const documented = operations.filter((o) => o.method !== 'head').map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(documented.sort()).toEqual(ROUTES.map(routeKey).sort());
    const heads = operations.filter((o) => o.method === 'head').map((o) => o.path);
    expect(heads.sort()).toEqual(
      ROUTES.filter((r) => r.method === 'GET')
        .map((r) => r.resource)
        .sort(),
    );
  });

  it('declares every path parameter of every path, and no other', () => {
    for (const { path, item, op } of operations) {
      const declared = [...item.parameters, ...(op.parameters ?? [])].map(parameterOf).filter((p) => p.in === 'path');
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(declared.map((p) => p.name)).toEqual(inTemplate);
    }
  });

  it('says who may call each route as ROUTES does', () => {
    for (const route of ROUTES) {
      const op = doc.paths[route.resource]![route.method.toLowerCase()]!;
      expect(op['x-access']).toBe(route.access);
      expect(op['x-privilege']).toBe(route.privilege);
      expect(op.security).toEqual(route.access === 'public' ? [] : [{ basicAuth: [] }, { bearerAuth: [] }]);
    }
  });

  it('lists a success code and the errors its access, ids, parameters and body imply', () => {
    for (const { path, method, op } of operations) {
      const route = ROUTES.find((r) => r.resource === path && r.method === (method === 'head' ? 'GET' : method.toUpperCase()))!;
      const codes = Object.keys(op.responses).map(Number);
      const takesInput = op.requestBody !== undefined || (op.parameters ?? []).map(parameterOf).some((p) => p.in !== 'path');
      expect(codes.some((c) => c >= 200 && c < 300)).toBe(true);
      expect(codes).toEqual(
        expect.arrayContaining([
          429,
          500,
          ...(route.access === 'public' ? [] : [401, 403]),
          ...(path.includes('{') ? [404] : []),
          ...(takesInput && method !== 'head' ? [400] : []),
        ]),
      );
    }
  });

  it('documents a JSON body and its 415 on every route with a body in ROUTES, and on no other', () => {
    for (const route of ROUTES) {
      const op = doc.paths[route.resource]![route.method.toLowerCase()] as Operation & {
        requestBody?: { required: boolean; content: Record<string, unknown> };
      };
      const described = { body: op.requestBody && Object.keys(op.requestBody.content), required: op.requestBody?.required };
      const expected = route.body ? { body: ['application/json', 'application/ld+json'], required: route.body === 'required' } : {};
      expect([route.resource, route.method, described]).toEqual([route.resource, route.method, expected]);
      expect([route.resource, route.method, '415' in op.responses]).toEqual([route.resource, route.method, !!route.body]);
    }
  });

  it('declares the media types the console is served as', () => {
    const typesOf = (path: string) => Object.keys((doc.paths[path]!.get!.responses['200'] as { content: object }).content);
    expect(typesOf('/console')).toEqual(['text/html']);
    expect(typesOf('/console/assets/{asset}')).toEqual(['text/javascript', 'text/css']);
  });

  it.each([
    ['post', '/customers/{customer}/queue', [200, 201, 400, 409, 413, 415, 422, 503]],
    ['post', '/customers/{customer}/queue/priority', [200, 201, 400, 409, 413, 415, 422, 503]],
    ['delete', '/customers/{customer}/queue/batches/{batch}', [200, 404, 409]],
    ['post', '/customers/{customer}/queue/batches/{batch}/retry', [201, 404, 409]],
    ['post', '/customers/{customer}/keys', [201, 400, 415, 422]],
    ['get', '/customers/{customer}/keys/{key}', [200, 404]],
    ['delete', '/customers/{customer}/keys/{key}', [204, 404]],
    ['get', '/openapi.json', [200]],
  ])('%s %s answers what its handler can', (method, path, codes) => {
    expect(Object.keys(doc.paths[path]![method]!.responses).map(Number)).toEqual(expect.arrayContaining(codes));
  });

  it.each([
    ['/customers/{customer}/queue/batches', ['page', 'pageSize']],
    ['/customers/{customer}/queue/active', ['page', 'pageSize']],
    ['/customers/{customer}/queue/recent', ['page', 'pageSize']],
    ['/customers/{customer}/queue/images', ['page', 'pageSize', 'order']],
    ['/customers/{customer}/queue/batches/{batch}', ['wait']],
    ['/customers/{customer}/queue/batches/{batch}/images', ['page', 'pageSize']],
    ['/customers/{customer}/queue/batches/{batch}/completedImages', ['page', 'pageSize']],
    ['/customers/{customer}/queue/batches/{batch}/errorImages', ['page', 'pageSize']],
    ['/queue/load', ['started', 'ended', 'customer', 'queue', 'page', 'page_size']],
    ['/queue/status', ['page', 'page_size']],
  ])('GET %s takes %j', (path, names) => {
    const declared = (doc.paths[path]!.get!.parameters ?? []).map(parameterOf).map((p) => p.name);
    expect(declared.sort()).toEqual([...names].sort());
  });
});

describe('route keys', () => {
  it('name only routes of ROUTES: tsc refuses a misspelt one (the @ts-expect-error below fails if it compiles)', () => {
    // @ts-expect-error: 'batchs' is no route, so this is not a RouteKey
    const typo: RouteKey = 'GET /customers/{customer}/queue/batchs';
    expect(ROUTES.map(routeKey)).not.toContain(typo);
  });
});

describe('GET /openapi.json', () => {
  it('serves the built document with the caller’s base URL as its server', async () => {
    // Prepare
    const event = {
      resource: '/openapi.json',
      path: '/openapi.json',
      httpMethod: 'GET',
      headers: { Host: 'api.example.org' },
      requestContext: { path: '/prod/openapi.json' },
    } as unknown as APIGatewayProxyEvent;
    // Act
    const result = (await apiRead(event, {} as Context)) as { statusCode: number; body: string };
    // Assess
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ ...buildOpenApi(), servers: [{ url: BASE }] });
  });
});

describe('the response schemas accept what the code renders', () => {
  const request = { baseUrl: BASE, query: {} } as unknown as ApiRequest;
  const completed = aMember({
    state: 'completed',
    width: 640,
    height: 480,
    mediaType: 'image/png',
    contentLength: 9,
    finished: '2026-01-01T00:01:00.000Z',
  });
  const failed = aMember({ id: 'b', state: 'error', error: 'HTTP 404 from the origin', finished: '2026-01-01T00:01:00.000Z' });
  const tagged = aMember({ id: 'c d', family: 'T', string1: 's', number1: -1, tags: ['x'], roles: ['r'], maxUnauthorised: 400 });

  it.each([
    ['a new batch', aBatch()],
    ['a batch under way', aBatch({ started: '2026-01-01T00:00:01.000Z', completed: 1, errors: 1, remaining: 2, waiting: 1 })],
    ['a finished batch', aBatch({ completed: 4, remaining: 0, waiting: 0, finished: '2026-01-01T00:05:00.000Z' })],
  ])('Batch: %s', (_name, batch) => {
    S.batchSchema.parse(batchResource(BASE, batch, { membersPerMs: 1, waiting: 10 }));
  });

  it.each([
    ['waiting', aMember()],
    ['completed', completed],
    ['failed', failed],
    ['with every optional field', tagged],
  ])('Image: %s, alone and as a collection member', (_name, member) => {
    S.imageSchema.parse(imageResource(BASE, member));
    S.imageSchema.parse(imageResource(BASE, member, false));
  });

  it('collections of batches and of images, first and later pages', () => {
    const params = { limit: 2, cursor: 'abc' };
    const render = (b: ReturnType<typeof aBatch>) => batchResource(BASE, b);
    S.batchCollectionSchema.parse(
      collection(request, '/customers/1/queue/batches', { items: [aBatch()], next: 'n' }, { limit: 100 }, render, 1),
    );
    S.batchCollectionSchema.parse(collection(request, '/customers/1/queue/active', { items: [] }, params, render));
    S.imageCollectionSchema.parse(
      collection(
        request,
        '/customers/1/queue/images',
        { items: [aMember(), completed, failed], next: 'n' },
        params,
        (m) => imageResource(BASE, m, false),
        3,
        { order: 'desc' },
      ),
    );
  });

  it('the queues', () => {
    S.customerQueueSchema.parse(customerQueueResource(BASE, emptyCounters(1)));
    S.queueSchema.parse(globalQueueResource(BASE, { incoming: 3, priority: 0 }));
  });

  it('errors, with and without member problems', () => {
    S.errorSchema.parse(errorBody(404, 'No such batch.'));
    S.errorSchema.parse(errorBody(422, '1 problem', [{ member: 0, field: 'origin', message: 'is required' }]));
  });

  it('the operator pages', () => {
    const now = new Date('2026-01-02T00:00:00.000Z');
    const query = { started: new Date('2026-01-01T00:00:00.000Z'), ended: now, page: 2, pageSize: 1 };
    const link = (n: number) => loadPageUrl(BASE, query, n, { customers: false, pageSize: true });
    S.loadPageSchema.parse({ count: 3, next: link(3), previous: link(1), results: [loadPoint(now.toISOString(), zeroLoad())] });
    const status = [
      queueStatus({ customer: 1, queue: 'priority', count: 2 }, now.toISOString()),
      queueStatus({ customer: 2, queue: 'main', count: 1 }, undefined),
    ];
    S.statusPageSchema.parse({ count: 2, next: null, previous: null, results: status });
  });
});

/** Whether `f` returns rather than throws (a handler's parser accepting a value). */
const accepts = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

describe('the parameter schemas agree with the handlers', () => {
  const withQuery = (query: Record<string, string>) => ({ query }) as unknown as ApiRequest;

  it.each(['0', '1', '100', '500', '501', 'x', '1.5'])('pageSize=%s', (raw) => {
    expect(PARAMETERS.pageSize.schema.safeParse(Number(raw)).success).toBe(accepts(() => pageParams(withQuery({ pageSize: raw }))));
  });

  it.each([
    ['a token', 'abc'],
    ['a page number', '3'],
    ['a token with - and _', 'a-b_c'],
    ['a dot', 'a.b'],
    ['nothing', ''],
    ['2,049 characters', 'x'.repeat(2049)],
  ])('page: %s', (_name, raw) => {
    expect(PARAMETERS.page.schema.safeParse(raw).success).toBe(accepts(() => pageParams(withQuery({ page: raw }))));
  });

  // intParam reads path ids without zod (every function does, at cold start): same rule, same words.
  it.each(['0', '7', '0000000000007', '999999999999', '1000000000000', '-1', '1.5', '1e3', ' 1', ''])('a path id of %j', (raw) => {
    for (const name of ['customer', 'batch', 'space'] as const) {
      expect(PARAMETERS[name].rule).toBe(PATH_ID_RULE);
      expect(pathIdValue(raw)).toBe(checkedValue(name, raw));
      expect(accepts(() => intParam({ pathParameters: { [name]: raw } } as unknown as ApiRequest, name))).toBe(
        pathIdValue(raw) !== undefined,
      );
    }
  });
});

describe('the document describes the limits the handlers enforce', () => {
  interface Described {
    type?: string;
    minimum?: number;
    maximum?: number;
    items?: Described;
    pattern?: string;
    allOf?: { pattern: string }[];
  }
  const described = doc as unknown as Document & {
    components: { parameters: Record<string, { schema: Described }>; schemas: Record<string, { properties: Record<string, Described> }> };
  };

  it('gives every integer parameter a minimum and a maximum (the integration suite tries both edges of each)', () => {
    const integers = Object.entries(described.components.parameters).filter(([, p]) => (p.schema.items ?? p.schema).type === 'integer');
    expect(integers.length).toBeGreaterThan(5);
    for (const [name, { schema }] of integers) {
      const { minimum, maximum } = schema.items ?? schema;
      expect({ name, minimum, maximum }).toEqual({ name, minimum: expect.any(Number), maximum: expect.any(Number) });
    }
  });

  it.each([
    ['/queue/status', (values: Record<string, string[]>) => parseStatusQuery(values)],
    ['/queue/load', (values: Record<string, string[]>) => parseLoadQuery(values, { admin: true }, new Date('2026-01-02T00:00:00Z'))],
  ])('GET %s takes page, page_size and customer up to the described maxima, not one more', (path, parse) => {
    const query = (doc.paths[path]!.get!.parameters ?? []).map(parameterOf) as unknown as { name: string; schema: Described }[];
    for (const { name, schema } of query.filter((p) => (p.schema.items ?? p.schema).type === 'integer')) {
      const { minimum, maximum } = (schema.items ?? schema) as Required<Described>;
      const edges = [minimum - 1, minimum, maximum, maximum + 1].map((n) => accepts(() => parse({ [name]: [String(n)] })));
      expect({ name, edges }).toEqual({ name, edges: [false, true, true, false] });
    }
  });

  it.each(['a', '.a', 'a.', 'a..b', '~', '.', '..', '...', 'a b', '', 'é', 'x'.repeat(200), 'x'.repeat(201)])(
    'member id %j: the described patterns refuse what the submit refuses',
    (id) => {
      const { pattern, allOf = [] } = described.components.schemas.SubmittedImage!.properties.id!;
      const patterns = [...(pattern ? [pattern] : []), ...allOf.map((p) => p.pattern)];
      const matches = patterns.every((p) => new RegExp(p, 'u').test(id));
      expect(matches).toBe(accepts(() => validateMembers([{ id, space: 1, origin: 'https://example.org/a.png' }], 1)));
      expect(matches).toBe(isAssetId(id));
    },
  );
});
