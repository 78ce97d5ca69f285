/**
 * API Gateway TOKEN authorizer (also called by the local runtime). Reads `Basic`/`Bearer`
 * credentials, checks the admin credential or a customer key's scrypt hash, and returns a policy
 * valid for every route the principal may call (API Gateway caches it by `Authorization` header).
 *
 * Contract: throwing `Error('Unauthorized')` makes API Gateway answer 401; any other error is a 500.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { adminCredential, keyStore } from '../adapters/key-store';
import { logger } from '../adapters/logger';
import {
  authContext,
  headerDigest,
  parseCredentials,
  policyFor,
  safeEqual,
  verifySecret,
  type AuthPrincipal,
} from '../domain/auth';

/** Seconds a successful verification is reused in this container (`0` disables the cache). */
export const AUTH_CACHE_SECONDS_ENV = 'AUTH_CACHE_SECONDS';
const DEFAULT_CACHE_SECONDS = 30;
const MAX_CACHE_ENTRIES = 1000;

/** Successful verifications by digest of the whole header (never the secret itself). */
const verified = new Map<string, { principal: AuthPrincipal; expires: number }>();

function cacheSeconds(): number {
  const raw = process.env[AUTH_CACHE_SECONDS_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_CACHE_SECONDS;
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function cached(digest: string, now: number): AuthPrincipal | undefined {
  const entry = verified.get(digest);
  if (!entry) return undefined;
  if (entry.expires > now) return entry.principal;
  verified.delete(digest);
  return undefined;
}

function remember(digest: string, principal: AuthPrincipal, seconds: number, now: number): void {
  if (seconds <= 0) return;
  verified.delete(digest);
  if (verified.size >= MAX_CACHE_ENTRIES) {
    // Maps iterate in insertion order: drop the oldest entry.
    const oldest = verified.keys().next();
    if (!oldest.done) verified.delete(oldest.value);
  }
  verified.set(digest, { principal, expires: now + seconds * 1000 });
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
async function authenticate(authorization: string | undefined): Promise<AuthPrincipal> {
  const credentials = parseCredentials(authorization);
  if (!credentials) return unauthorized(authorization ? 'malformed credentials' : 'no credentials');

  const admin = await adminCredential();
  if (admin && credentials.key === admin.key) {
    if (!safeEqual(credentials.secret, admin.secret)) return unauthorized('wrong secret', credentials.key);
    return { key: credentials.key, admin: true };
  }

  const stored = await keyStore().find(credentials.key);
  if (!stored) return unauthorized('unknown key', credentials.key);
  if (!(await verifySecret(credentials.secret, stored.secretHash))) return unauthorized('wrong secret', credentials.key);
  return { key: stored.key, admin: false, customer: stored.customer };
}

export async function handler(event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const authorization = event.authorizationToken;
  const seconds = cacheSeconds();
  const now = Date.now();
  const digest = authorization ? headerDigest(authorization) : undefined;

  let principal = digest && seconds > 0 ? cached(digest, now) : undefined;
  if (!principal) {
    principal = await authenticate(authorization);
    if (digest) remember(digest, principal, seconds, now);
  }
  return {
    principalId: principal.key,
    policyDocument: policyFor(principal, event.methodArn),
    context: authContext(principal),
  };
}
