/**
 * A customer's API keys (admin only):
 * - `POST /customers/{customer}/keys` → 201 `vocab:Key` with the secret (shown this once only);
 *   an optional JSON body `{"privileges": ["read", …]}` chooses what the key may do (default all);
 * - `GET /customers/{customer}/keys` → a Collection of `vocab:Key` (no secrets);
 * - `GET /customers/{customer}/keys/{key}` → that `vocab:Key` (no secret), 404 when unknown;
 * - `DELETE /customers/{customer}/keys/{key}` → 204, or 404 when the customer has no such key.
 * API Gateway's policy already limits these routes to admin keys; the handler checks again.
 */
import { z } from 'zod';
import { type ApiKeyInfo, keyStore, type NewApiKey } from '../adapters/key-store';
import { usageKeysFromEnv } from '../adapters/usage-keys';
import { PRIVILEGES, type Privilege } from '../config/routes';
import { type ApiRequest, type ApiResponse, apiHandler, intParam } from '../http/api';
import { CONTEXT_URL, HttpError } from '../http/problem';
import { logger } from '../observability/logger';

/** The optional body of POST /customers/{customer}/keys (also documented in lambdas/http/openapi.ts). */
export const newKeySchema = z
  .object({
    privileges: z
      .array(z.enum(PRIVILEGES as [Privilege, ...Privilege[]]))
      .min(1, 'a key needs at least one privilege')
      .optional(),
  })
  .strict();

/** The privileges asked for in a POST body (all when the body is empty or names none). */
function requestedPrivileges(request: ApiRequest): Privilege[] {
  const raw = request.body?.trim();
  if (!raw) return [...PRIVILEGES];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'The body is not valid JSON.');
  }
  const result = newKeySchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new HttpError(
      422,
      `${where}${issue?.message ?? 'invalid body'}. Send {"privileges": [...]} with any of ${PRIVILEGES.join(', ')}, or no body for all.`,
    );
  }
  return result.data.privileges ?? [...PRIVILEGES];
}

function requireAdmin(request: ApiRequest): void {
  if (!request.principal?.admin) throw new HttpError(403, 'Only an admin key may manage API keys.');
}

function keysUrl(request: ApiRequest, customer: number): string {
  return `${request.baseUrl}/customers/${customer}/keys`;
}

function keyResource(request: ApiRequest, info: ApiKeyInfo | NewApiKey) {
  return {
    '@context': CONTEXT_URL,
    '@id': `${keysUrl(request, info.customer)}/${encodeURIComponent(info.key)}`,
    '@type': 'vocab:Key',
    key: info.key,
    ...('secret' in info ? { secret: info.secret } : {}),
    customer: info.customer,
    privileges: info.privileges,
    created: info.created,
  };
}

async function createKey(request: ApiRequest): Promise<ApiResponse> {
  requireAdmin(request);
  const customer = intParam(request, 'customer');
  const privileges = requestedPrivileges(request);
  const created = await keyStore(usageKeysFromEnv()).create(customer, privileges);
  logger.info('api key created', { customer, key: created.key, privileges: created.privileges });
  const body = keyResource(request, created);
  return {
    status: 201,
    body,
    // The secret must not be kept by shared caches or proxies.
    headers: { Location: body['@id'], 'Cache-Control': 'no-store' },
  };
}

async function listKeys(request: ApiRequest): Promise<ApiResponse> {
  requireAdmin(request);
  const customer = intParam(request, 'customer');
  const found = await keyStore().list(customer);
  const id = keysUrl(request, customer);
  // A customer has few keys: one page holds them all.
  return {
    status: 200,
    body: {
      '@context': CONTEXT_URL,
      '@id': id,
      '@type': 'Collection',
      totalItems: found.length,
      pageSize: found.length,
      member: found.map((info) => {
        const { '@context': _context, ...member } = keyResource(request, info);
        return member;
      }),
      view: { '@id': id, '@type': 'PartialCollectionView', first: id },
    },
  };
}

/** One key, so that the `@id` a create or a listing emits resolves: no secret, no hash. */
async function getKey(request: ApiRequest): Promise<ApiResponse> {
  requireAdmin(request);
  const customer = intParam(request, 'customer');
  const key = request.pathParameters.key ?? '';
  const found = await keyStore().find(key);
  if (!found || found.customer !== customer) throw new HttpError(404, `Customer ${customer} has no API key '${key.slice(0, 200)}'.`);
  const { key: id, customer: owner, privileges, created } = found;
  return { status: 200, body: keyResource(request, { key: id, customer: owner, privileges, created }) };
}

async function revokeKey(request: ApiRequest): Promise<ApiResponse> {
  requireAdmin(request);
  const customer = intParam(request, 'customer');
  const key = request.pathParameters.key ?? '';
  if (!(await keyStore(usageKeysFromEnv()).revoke(customer, key))) {
    throw new HttpError(404, `Customer ${customer} has no API key '${key}'.`);
  }
  logger.info('api key revoked', { customer, key });
  return { status: 204 };
}

export const handler = apiHandler('api-keys', {
  'POST /customers/{customer}/keys': createKey,
  'GET /customers/{customer}/keys': listKeys,
  'GET /customers/{customer}/keys/{key}': getKey,
  'DELETE /customers/{customer}/keys/{key}': revokeKey,
});
