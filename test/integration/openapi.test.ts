/**
 * GET /openapi.json through the local runtime: public (no credentials), the built document, and
 * its server the URL the client called; and every limit it describes is the one the service
 * enforces: for each described parameter limit, a request just inside is answered and one just
 * outside refused, so the description and the enforcement cannot drift apart again.
 */
import { ROUTES } from '../../lambdas/config/routes';
import { buildOpenApi } from '../../lambdas/http/openapi';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(120_000);

let env: TestRuntime;

beforeAll(async () => {
  env = await startTestRuntime();
});

afterAll(async () => {
  await env?.stop();
});

it('serves the document without credentials, with the caller’s base URL as its server', async () => {
  // Act
  const response = await fetch(`${env.runtime.apiUrl}/openapi.json`);
  // Assess
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const served = (await response.json()) as { servers: unknown; paths: Record<string, unknown> };
  expect(served.servers).toEqual([{ url: env.runtime.apiUrl }]);
  expect(served).toEqual({ ...buildOpenApi(), servers: served.servers });
  expect(Object.keys(served.paths).sort()).toEqual([...new Set(ROUTES.map((r) => r.resource))].sort());
});

interface JsonSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  enum?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
}
interface Parameter {
  name: string;
  in: string;
  schema: JsonSchema;
}
interface Document {
  paths: Record<string, Record<string, { parameters?: { $ref: string }[] }>>;
  components: { parameters: Record<string, Parameter>; schemas: Record<string, JsonSchema> };
}

describe('the limits the document describes are the ones the service enforces', () => {
  const customer = 4_201;
  let doc: Document;
  let batch: number;
  const parameterOf = (ref: { $ref: string }) => doc.components.parameters[ref.$ref.split('/').pop() as string] as Parameter;
  const member = (id: string) => ({ id, space: 1, origin: `${env.origins.url}/png/8x6.png` });

  beforeAll(async () => {
    doc = (await (await fetch(`${env.runtime.apiUrl}/openapi.json`)).json()) as Document;
    // A finished batch, so `?wait=N` answers at once.
    batch = await env.api.submitOk(customer, [member('limits')]);
    await env.api.waitForFinished(customer, [batch]);
  });

  /** Values just inside and just outside a described parameter schema (none for rules a schema cannot say alone). */
  function boundaries(schema: JsonSchema): { inside: string[]; outside: string[] } {
    const one = schema.items ?? schema;
    if (one.type === 'integer') {
      expect({ minimum: one.minimum, maximum: one.maximum }).toEqual({ minimum: expect.any(Number), maximum: expect.any(Number) });
      const [min, max] = [one.minimum as number, one.maximum as number];
      return { inside: [String(min), String(max)], outside: [String(min - 1), String(max + 1)] };
    }
    if (one.enum) return { inside: one.enum, outside: ['x'] };
    throw new Error(`no boundaries for ${JSON.stringify(schema)}`);
  }

  it('answers each query parameter’s limits inside, and 400 just outside', async () => {
    const results: { request: string; status: number }[] = [];
    const expected: { request: string; status: number }[] = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      const path = template.replace('{customer}', String(customer)).replace('{batch}', String(batch));
      // Free text has rules a schema cannot say alone (a page token must be one the API issued, a
      // date-time a real one): the unit tests of hydra.ts and operator-query.ts cover them.
      const bounded = (item.get?.parameters ?? [])
        .map(parameterOf)
        .filter((p) => p.in === 'query' && (p.schema.type !== 'string' || p.schema.enum));
      for (const parameter of bounded) {
        const { inside, outside } = boundaries(parameter.schema);
        for (const [values, status] of [
          [inside, 200],
          [outside, 400],
        ] as const) {
          for (const value of values) {
            const request = `GET ${path}?${parameter.name}=${encodeURIComponent(value)}`;
            results.push({ request, status: (await env.api.get(`${path}?${parameter.name}=${encodeURIComponent(value)}`)).status });
            expected.push({ request, status });
          }
        }
      }
    }
    expect(results.length).toBeGreaterThan(50);
    expect(results).toEqual(expected);
  });

  it('answers a path id’s limits inside, and 404 (nothing by that id) just outside', async () => {
    const { inside, outside } = boundaries(doc.components.parameters.customer!.schema);
    const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await env.api.get(`/customers/${id}/queue`)).status));
    expect(await statuses(inside)).toEqual([200, 200]);
    expect(await statuses(outside)).toEqual([404, 404]);
  });

  it('takes an Idempotency-Key of the described lengths, and refuses one just outside', async () => {
    const { minLength, maxLength } = doc.components.parameters.idempotencyKey!.schema;
    const submit = async (key: string) =>
      (await env.api.call('POST', `/customers/${customer}/queue`, { member: [member(`key-${key.length}`)] }, { 'Idempotency-Key': key }))
        .status;
    expect([await submit('k'.repeat(minLength as number)), await submit('k'.repeat(maxLength as number))]).toEqual([201, 201]);
    expect(await submit('k'.repeat((maxLength as number) + 1))).toBe(400);
  });

  it('takes every described form of a collection’s @context, and refuses another', async () => {
    const forms = doc.components.schemas.SubmittedCollection!.properties!['@context']!.anyOf!.map((s) => s.type);
    const example: Record<string, unknown> = { string: 'https://example.org/context.json', object: { vocab: 'x' }, array: [], null: null };
    const submit = async (context: unknown, id: string) =>
      (await env.api.call('POST', `/customers/${customer}/queue`, { '@context': context, member: [member(id)] })).status;
    expect(await Promise.all(forms.map((form) => submit(example[form as string], `context-${form}`)))).toEqual(forms.map(() => 201));
    expect(await submit(5, 'context-number')).toBe(400);
  });
});
