/**
 * Callers and their keys: secret hashing and what a key's privileges let it call. Pure functions only
 * (plus node:crypto): the key store, the header parsing (http/credentials.ts) and the authorizer's
 * policy (http/authorizer-policy.ts) build on them.
 */
import { createHash, randomBytes, type ScryptOptions, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { PRIVILEGES, type Privilege, type Route } from '../config/routes';

/** A key id and its secret, as presented by a client. */
export interface Credentials {
  key: string;
  secret: string;
}

/**
 * Who is calling: the owner of a verified credential. The authorizer establishes it; the API
 * handlers read it back from the authorizer context (`principalOf` in http/api.ts).
 */
export interface Principal {
  key: string;
  admin: boolean;
  /** The customer a customer key belongs to (absent for admin keys). */
  customer?: number;
  /** What the key may do; absent means every privilege (admin keys may do everything). */
  privileges?: readonly Privilege[];
}

/**
 * A key's privileges as stored: a list of known names, in canonical order. Keys stored before
 * privileges existed (no attribute) have all of them.
 */
export function normalisePrivileges(stored: unknown): Privilege[] {
  if (!Array.isArray(stored) && !(stored instanceof Set)) return [...PRIVILEGES];
  const given = new Set([...stored].map(String));
  return PRIVILEGES.filter((p) => given.has(p));
}

/**
 * The value of a customer key's API Gateway API key, which the authorizer returns as its usage
 * identifier so that API Gateway applies the usage plan per key. Derived from the key id (not
 * secret: with the API key source `AUTHORIZER` a client cannot present it), so nothing more is
 * stored; at least 20 characters, as API Gateway requires.
 */
export function usageKeyValue(key: string): string {
  return `image-queue-usage-${key}`;
}

/** Key ids: what `newKeyPair` makes, plus the admin key's configured name. */
export const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Longer secrets are refused before hashing, so a huge header cannot make scrypt costlier. */
export const MAX_SECRET_LENGTH = 256;

// ---------------------------------------------------------------------------------------------
// Secrets

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP's minimum for scrypt; ≈16 MiB and a few tens of milliseconds per hash. */
export const SCRYPT_PARAMS: Readonly<ScryptParams> = { N: 16384, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function scrypt(secret: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(secret, salt, length, options, (error, derived) => (error ? reject(error) : resolve(derived)));
  });
}

/** Memory scrypt needs (128·N·r) plus headroom; Node's default limit is 32 MiB. */
function maxmemFor({ N, r }: ScryptParams): number {
  return 128 * N * r * 2;
}

/** Hashes a secret for storage: `scrypt$N$r$p$<salt base64url>$<hash base64url>`. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = SCRYPT_PARAMS;
  const hash = await scrypt(secret, salt, HASH_BYTES, { N, r, p, maxmem: maxmemFor(SCRYPT_PARAMS) });
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/**
 * Checks a secret against a stored `hashSecret` encoding, in constant time. A malformed encoding,
 * or parameters far beyond what `hashSecret` writes, give false (never an exception).
 */
export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^\d{1,8}$/.test(v ?? '') ? Number(v) : NaN)) as [number, number, number];
  // N must be a power of two > 1; bound the cost so a tampered record cannot stall the authorizer.
  if (!(N > 1 && (N & (N - 1)) === 0 && N <= 1 << 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  if (128 * N * r > 256 * 1024 * 1024) return false;
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const expected = Buffer.from(parts[5] as string, 'base64url');
  if (salt.length === 0 || expected.length < 16) return false;
  const actual = await scrypt(secret, salt, expected.length, { N, r, p, maxmem: maxmemFor({ N, r, p }) });
  return timingSafeEqual(actual, expected);
}

/**
 * Compares two strings in constant time (for the admin secret, held in plain text). Both sides are
 * hashed first so that neither the comparison nor its length check leaks the expected length.
 */
export function safeEqual(actual: string, expected: string): boolean {
  const a = createHash('sha256').update(actual, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** A digest of a whole `Authorization` header, used as a cache key so no secret sits in memory. */
export function headerDigest(authorization: string): string {
  return createHash('sha256').update(authorization, 'utf8').digest('base64url');
}

/** A fresh key pair: key `k` + 20 url-safe characters (120 bits), secret 40 (240 bits). */
export function newKeyPair(): Credentials {
  return {
    key: `k${randomBytes(15).toString('base64url')}`,
    secret: randomBytes(30).toString('base64url'),
  };
}

// ---------------------------------------------------------------------------------------------
// Privileges

/**
 * Why a principal may not call a route, in words for the refusal's body; undefined when it may.
 * `pathCustomer` is the customer the request's path names, if any. Admin keys may call everything;
 * a customer key calls a route open to any valid key (`authenticated`, no privilege), or one whose
 * privilege it holds, for its own customer only.
 */
export function refusalOf(principal: Principal, route: Route, pathCustomer?: string): string | undefined {
  if (principal.admin) return undefined;
  if (route.privilege === undefined) return route.access === 'authenticated' ? undefined : 'Only an admin key may call this route.';
  if (pathCustomer !== undefined && pathCustomer !== String(principal.customer)) {
    return `This key belongs to customer ${principal.customer}; it cannot reach customer ${pathCustomer}.`;
  }
  const held = principal.privileges ?? PRIVILEGES;
  if (!held.includes(route.privilege)) {
    const needs = `${route.method} ${route.resource}`;
    return `This key lacks the ${route.privilege} privilege that ${needs} needs (it has: ${held.join(', ') || 'none'}).`;
  }
  return undefined;
}
