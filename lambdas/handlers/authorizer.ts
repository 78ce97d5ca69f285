/**
 * API Gateway TOKEN authorizer (also called by the local runtime). Reads `Basic`/`Bearer`
 * credentials, checks the admin credential or a customer key, and returns a policy for every route
 * the key's privileges cover, the API Gateway API key that meters it (`usageIdentifierKey`, API key
 * source `AUTHORIZER`) and, for API Gateway's 403 body, why this request is refused if it is.
 *
 * Revocation takes effect on the next request: a customer key's item is read (one consistent
 * GetItem) on every call, and API Gateway does not cache results (TTL 0 in the stack). Only the
 * costly part, scrypt, is skipped when this container already verified the same header against
 * the same stored hash.
 *
 * Contract: throwing `Error('Unauthorized')` makes API Gateway answer 401; any other error is a 500.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { adminCredential } from '../adapters/admin-credential';
import { keyStore } from '../adapters/key-store';
import { settings } from '../config/settings';
import { headerDigest, type Principal, safeEqual, usageKeyValue, verifySecret } from '../domain/auth';
import { authContext, policyFor } from '../http/authorizer-policy';
import { parseCredentials } from '../http/credentials';
import { logger } from '../observability/logger';

const MAX_CACHE_ENTRIES = 1000;

/** Stored hashes a header's secret was verified against, by digest of the header (never the secret). */
const verified = new Map<string, { secretHash: string; expires: number }>();

function verifiedBefore(digest: string, secretHash: string, now: number): boolean {
  const entry = verified.get(digest);
  if (!entry) return false;
  if (entry.expires > now && entry.secretHash === secretHash) return true;
  verified.delete(digest);
  return false;
}

function remember(digest: string, secretHash: string, now: number): void {
  // Seconds a verified secret is remembered in this container (AUTH_CACHE_SECONDS; 0 disables).
  const seconds = settings.authCacheSeconds();
  if (seconds <= 0) return;
  verified.delete(digest);
  if (verified.size >= MAX_CACHE_ENTRIES) {
    // Maps iterate in insertion order: drop the oldest entry.
    const oldest = verified.keys().next();
    if (!oldest.done) verified.delete(oldest.value);
  }
  verified.set(digest, { secretHash, expires: now + seconds * 1000 });
}

/** Empties the verification cache (tests). */
export function clearAuthCache(): void {
  verified.clear();
}

function unauthorized(reason: string, key?: string): never {
  // Only the key id and a reason are logged, never the header or the secret.
  logger.info('authorization refused', { reason, ...(key ? { key } : {}) });
  throw new Error('Unauthorized');
}

/** Verifies a header's credentials; throws `Error('Unauthorized')` when they are not valid. */
async function authenticate(authorization: string | undefined): Promise<Principal> {
  const credentials = parseCredentials(authorization);
  if (!credentials || !authorization) return unauthorized(authorization ? 'malformed credentials' : 'no credentials');

  const admin = await adminCredential();
  if (admin && credentials.key === admin.key) {
    if (!safeEqual(credentials.secret, admin.secret)) return unauthorized('wrong secret', credentials.key);
    return { key: credentials.key, admin: true };
  }

  // Read on every request: a revoked key (or changed privileges) counts from the next call.
  const stored = await keyStore().find(credentials.key);
  if (!stored) return unauthorized('unknown key', credentials.key);
  const digest = headerDigest(authorization);
  const now = Date.now();
  if (!verifiedBefore(digest, stored.secretHash, now)) {
    if (!(await verifySecret(credentials.secret, stored.secretHash))) return unauthorized('wrong secret', credentials.key);
    remember(digest, stored.secretHash, now);
  }
  return { key: stored.key, admin: false, customer: stored.customer, privileges: stored.privileges };
}

export async function handler(event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const principal = await authenticate(event.authorizationToken);
  return {
    principalId: principal.key,
    policyDocument: policyFor(principal, event.methodArn),
    context: authContext(principal, event.methodArn),
    usageIdentifierKey: principal.admin ? settings.adminUsageKey() : usageKeyValue(principal.key),
  };
}
