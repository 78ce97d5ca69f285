/**
 * domain/keys.ts, the key routes' rules, through an in-memory KeyStore: only admin keys manage
 * keys, a new key may do everything unless told otherwise, and a key is found, or revoked, only
 * under its own customer (anything else is the domain's not-found, answered 404).
 */
import type { Privilege } from '../../lambdas/config/routes';
import { ForbiddenError, KeyNotFoundError } from '../../lambdas/domain/errors';
import { createKey, findKey, listKeys, requireKeyManager, revokeKey } from '../../lambdas/domain/keys';
import type { KeyStore, StoredApiKey } from '../../lambdas/domain/ports';
import { toHttpError } from '../../lambdas/http/domain-errors';

function memoryKeyStore(): KeyStore {
  const keys = new Map<string, StoredApiKey>();
  return {
    async create(customer: number, privileges: readonly Privilege[]) {
      const key = `k${keys.size + 1}`;
      keys.set(key, { key, customer, privileges: [...privileges], created: `2026-12-07T00:00:0${keys.size}Z`, secretHash: 'hash' });
      return { key, customer, privileges: [...privileges], created: keys.get(key)!.created, secret: 'secret' };
    },
    find: async (key) => keys.get(key),
    list: async (customer) => [...keys.values()].filter((k) => k.customer === customer),
    revoke: async (customer, key) => keys.get(key)?.customer === customer && keys.delete(key),
  };
}

it('lets only an admin key manage keys', () => {
  expect(() => requireKeyManager({ key: 'kAdmin', admin: true, privileges: ['read', 'submit', 'manage'] })).not.toThrow();
  expect(() => requireKeyManager({ key: 'kCustomer', admin: false, customer: 1, privileges: ['read', 'submit', 'manage'] })).toThrow(
    ForbiddenError,
  );
  expect(() => requireKeyManager(undefined)).toThrow(ForbiddenError);
});

it('gives a new key every privilege unless the request names some', async () => {
  const store = memoryKeyStore();
  expect((await createKey(store, 1)).privileges).toEqual(['read', 'submit', 'manage']);
  expect((await createKey(store, 1, ['read'])).privileges).toEqual(['read']);
  expect((await listKeys(store, 1)).map((k) => k.privileges)).toEqual([['read', 'submit', 'manage'], ['read']]);
});

it("finds a key under its own customer only, without its hash; another customer's is not found (404)", async () => {
  const store = memoryKeyStore();
  const { key } = await createKey(store, 1);
  expect(await findKey(store, 1, key)).toEqual({ key, customer: 1, privileges: ['read', 'submit', 'manage'], created: expect.any(String) });
  const elsewhere = await findKey(store, 2, key).catch((error: unknown) => error);
  expect(elsewhere).toBeInstanceOf(KeyNotFoundError);
  expect(toHttpError(elsewhere)).toMatchObject({ statusCode: 404, message: `Customer 2 has no API key '${key}'.` });
  await expect(findKey(store, 1, 'kNever')).rejects.toThrow(KeyNotFoundError);
});

it("revokes a customer's own key once; an unknown or another customer's key is not found", async () => {
  const store = memoryKeyStore();
  const { key } = await createKey(store, 1);
  await expect(revokeKey(store, 2, key)).rejects.toThrow(KeyNotFoundError);
  await revokeKey(store, 1, key);
  await expect(revokeKey(store, 1, key)).rejects.toThrow(KeyNotFoundError);
  expect(await listKeys(store, 1)).toEqual([]);
});
