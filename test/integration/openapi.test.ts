/**
 * GET /openapi.json through the local runtime: public (no credentials), the built document, and
 * its server the URL the client called.
 */
import { ROUTES } from '../../lambdas/config/routes';
import { buildOpenApi } from '../../lambdas/http/openapi';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

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
