/**
 * A customer's API keys (admin only):
 * - `POST /customers/{customer}/keys` → 201 `vocab:Key` with the secret (shown this once only);
 *   an optional JSON body `{"privileges": ["read", …]}` chooses what the key may do (default all);
 * - `GET /customers/{customer}/keys` → a Collection of `vocab:Key` (no secrets);
 * - `GET /customers/{customer}/keys/{key}` → that `vocab:Key` (no secret), 404 when unknown;
 * - `DELETE /customers/{customer}/keys/{key}` → 204, or 404 when the customer has no such key.
 * The rules are domain/keys.ts's; this reads the request and writes the resources.
 */
import { keyStore } from '../adapters/key-store';
import { usageKeysFromEnv } from '../adapters/usage-keys';
import { createKey, findKey, listKeys, requireKeyManager, revokeKey } from '../domain/keys';
import type { ApiKeyInfo, NewApiKey } from '../domain/ports';
import { type ApiRequest, type ApiResponse, apiHandler, intParam, type RouteFunction } from '../http/api';
import { parseNewKey } from '../http/key-body';
import { CONTEXT_URL } from '../http/problem';
import { logger } from '../observability/logger';

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

/** A key route, run only for a key manager. */
const managing =
  (route: (request: ApiRequest, customer: number) => Promise<ApiResponse>): RouteFunction =>
  (request) => {
    requireKeyManager(request.principal);
    return route(request, intParam(request, 'customer'));
  };

export const handler = apiHandler('api-keys', {
  'POST /customers/{customer}/keys': managing(async (request, customer) => {
    const created = await createKey(keyStore(usageKeysFromEnv()), customer, parseNewKey(request.body));
    logger.info('api key created', { customer, key: created.key, privileges: created.privileges });
    const body = keyResource(request, created);
    // The secret must not be kept by shared caches or proxies.
    return { status: 201, body, headers: { Location: body['@id'], 'Cache-Control': 'no-store' } };
  }),
  'GET /customers/{customer}/keys': managing(async (request, customer) => {
    const found = await listKeys(keyStore(), customer);
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
  }),
  // One key, so that the `@id` a create or a listing emits resolves: no secret, no hash.
  'GET /customers/{customer}/keys/{key}': managing(async (request, customer) => ({
    status: 200,
    body: keyResource(request, await findKey(keyStore(), customer, request.pathParameters.key ?? '')),
  })),
  'DELETE /customers/{customer}/keys/{key}': managing(async (request, customer) => {
    const key = request.pathParameters.key ?? '';
    await revokeKey(keyStore(usageKeysFromEnv()), customer, key);
    logger.info('api key revoked', { customer, key });
    return { status: 204 };
  }),
});
