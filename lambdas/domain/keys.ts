/**
 * A customer's API keys: who may manage them, what a new key may do, and that a key named under
 * another customer does not exist there. The store issues keys and keeps their secrets hashed.
 */
import { PRIVILEGES, type Privilege } from '../config/routes';
import type { Principal } from './auth';
import { ForbiddenError, KeyNotFoundError } from './errors';
import type { ApiKeyInfo, KeyStore, NewApiKey } from './ports';

/** Only admin keys manage keys (API Gateway's policy already says so; this checks again). */
export function requireKeyManager(principal: Principal | undefined): void {
  if (!principal?.admin) throw new ForbiddenError('Only an admin key may manage API keys.');
}

/** A new key of the customer; it may do everything unless `privileges` names what. */
export function createKey(store: KeyStore, customer: number, privileges: readonly Privilege[] = PRIVILEGES): Promise<NewApiKey> {
  return store.create(customer, privileges);
}

export function listKeys(store: KeyStore, customer: number): Promise<ApiKeyInfo[]> {
  return store.list(customer);
}

/** The customer's key, without its secret hash; another customer's key is not found, as an unknown one. */
export async function findKey(store: KeyStore, customer: number, key: string): Promise<ApiKeyInfo> {
  const found = await store.find(key);
  if (!found || found.customer !== customer) throw new KeyNotFoundError(customer, key);
  return { key: found.key, customer: found.customer, privileges: found.privileges, created: found.created };
}

/** Revokes the customer's key: refused from the next request. */
export async function revokeKey(store: KeyStore, customer: number, key: string): Promise<void> {
  if (!(await store.revoke(customer, key))) throw new KeyNotFoundError(customer, key);
}
