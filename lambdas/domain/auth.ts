/**
 * Credentials, secret hashing and the API Gateway policy of a caller. Pure functions only (plus
 * node:crypto): the key store and the authorizer handler build on them.
 */
import { createHash, randomBytes, type ScryptOptions, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { findRoute, matchResource, PRIVILEGES, type Privilege, ROUTES } from '../config/routes';

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

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBase64(token: string): string | undefined {
  if (!BASE64.test(token) && !BASE64URL.test(token)) return undefined;
  const unpadded = token.replace(/=+$/, '');
  // A single leftover character cannot encode a byte: that is not base64.
  if (unpadded.length % 4 === 1) return undefined;
  if (token.length !== unpadded.length && token.length % 4 !== 0) return undefined;
  try {
    return utf8.decode(Buffer.from(unpadded, token.includes('-') || token.includes('_') ? 'base64url' : 'base64'));
  } catch {
    return undefined;
  }
}

/** Splits `key:secret` at the first colon (RFC 7617: the user-id cannot contain one). */
function splitPair(pair: string): Credentials | undefined {
  const colon = pair.indexOf(':');
  if (colon < 0) return undefined;
  const key = pair.slice(0, colon);
  const secret = pair.slice(colon + 1);
  if (!KEY_PATTERN.test(key)) return undefined;
  if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return undefined;
  // Control characters never occur in a secret we issue or in a sane admin secret.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse secrets containing C0 controls or DEL.
  if (/[\u0000-\u001f\u007f]/.test(secret)) return undefined;
  return { key, secret };
}

/**
 * Reads the credentials of an `Authorization` header:
 * - `Basic base64(key:secret)` (what DLCS clients send);
 * - `Bearer key:secret`, or `Bearer base64(key:secret)`.
 * Scheme names are case-insensitive. Anything else (other schemes, malformed base64, no colon,
 * empty key or secret, a key outside `[A-Za-z0-9_-]{1,64}`) gives undefined.
 */
export function parseCredentials(authorization: string | undefined): Credentials | undefined {
  if (authorization === undefined) return undefined;
  const match = /^\s*([A-Za-z]+) +(\S+)\s*$/.exec(authorization);
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const token = match[2] as string;
  if (scheme === 'basic') {
    const decoded = decodeBase64(token);
    return decoded === undefined ? undefined : splitPair(decoded);
  }
  if (scheme === 'bearer') {
    // base64 never contains a colon, so a colon means the pair was sent as is.
    if (token.includes(':')) return splitPair(token);
    const decoded = decodeBase64(token);
    return decoded === undefined ? undefined : splitPair(decoded);
  }
  return undefined;
}

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
// API Gateway policy

export interface PolicyStatement {
  Action: 'execute-api:Invoke';
  Effect: 'Allow' | 'Deny';
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** What API Gateway passes on to the integration as `requestContext.authorizer` (strings only). */
export interface AuthContext {
  [name: string]: string;
  key: string;
  admin: 'true' | 'false';
  /** The customer id of a customer key, '' for an admin key. */
  customer: string;
  /** Comma-separated privileges ('read,submit,manage' for admin keys). */
  privileges: string;
  /**
   * Why this request is refused, or a generic sentence when it is allowed: API Gateway's
   * access-denied response quotes it (`$context.authorizer.denied`), so it holds no quote or backslash.
   */
  denied: string;
}

/**
 * Splits a method ARN (`arn:aws:execute-api:region:account:apiId/stage/METHOD/path…`) into the
 * part up to the API id and the stage.
 */
export function parseMethodArn(methodArn: string): { prefix: string; stage: string } {
  const [prefix, stage] = methodArn.split('/');
  if (!prefix?.startsWith('arn:') || !stage) throw new Error(`not an API Gateway method ARN: ${methodArn}`);
  return { prefix, stage };
}

/** The execute-api resource pattern of a route for customer C (path parameters become `*`). */
function routeResource(base: string, method: string, resource: string, customer: number): string {
  const path = resource.replace('{customer}', String(customer)).replace(/\{[^}]+\}/g, '*');
  return `${base}/${method}${path}`;
}

/**
 * The IAM policy of a principal, valid for every route it may call (not just the one called), so
 * that it stays right should API Gateway ever cache it by `Authorization` header:
 * - admin: everything in the stage;
 * - customer key of customer C: each route of `ROUTES` open to customer keys whose privilege the
 *   key holds, with C in place of `{customer}` (`GET /queue/load` too). Nothing else: the keys of
 *   C and `/queue/status` are admin-only. (`GET /queue` is public and has no authorizer.)
 * In resource ARNs `*` matches any run of characters, slashes included.
 */
export function policyFor(principal: Principal, methodArn: string): PolicyDocument {
  const { prefix, stage } = parseMethodArn(methodArn);
  const base = `${prefix}/${stage}`;
  let resources: string[];
  if (principal.admin) {
    resources = [`${base}/*/*`];
  } else if (principal.customer !== undefined && Number.isSafeInteger(principal.customer) && principal.customer >= 0) {
    const held = new Set(principal.privileges ?? PRIVILEGES);
    const customer = principal.customer;
    // Every GET route also answers HEAD (the same function, without the body).
    const open = (r: (typeof ROUTES)[number]) => (r.privilege === undefined ? r.access === 'authenticated' : held.has(r.privilege));
    resources = ROUTES.filter(open).flatMap((r) =>
      (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]).map((method) => routeResource(base, method, r.resource, customer)),
    );
  } else {
    resources = [];
  }
  if (resources.length === 0) {
    return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${base}/*/*`] }] };
  }
  return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resources }] };
}

/** Said when a request is refused without a more precise reason. */
export const GENERIC_DENIAL = 'These credentials do not allow this request.';

/**
 * Why the policy refuses this very request (the method ARN of the call), in words for the
 * refusal's body; undefined when it is allowed. API Gateway shows it through the `denied` context value.
 */
export function denialReason(principal: Principal, methodArn: string): string | undefined {
  if (principal.admin) return undefined;
  const [, , method, ...rest] = methodArn.split('/');
  const path = `/${rest.join('/')}`;
  const match = matchResource(path);
  const route = match && method ? findRoute(method === 'HEAD' ? 'GET' : method, match.resource) : undefined;
  if (!route || !match) return GENERIC_DENIAL;
  if (route.privilege === undefined) return route.access === 'authenticated' ? undefined : 'Only an admin key may call this route.';
  const pathCustomer = match.pathParameters.customer;
  if (pathCustomer !== undefined && pathCustomer !== String(principal.customer)) {
    return `This key belongs to customer ${principal.customer}; it cannot reach customer ${pathCustomer}.`;
  }
  const held = principal.privileges ?? PRIVILEGES;
  if (!held.includes(route.privilege)) {
    return `This key lacks the ${route.privilege} privilege that ${method} ${route.resource} needs (it has: ${held.join(', ') || 'none'}).`;
  }
  return undefined;
}

/** The authorizer context for a principal and this request (API Gateway context values must be scalars). */
export function authContext(principal: Principal, methodArn: string): AuthContext {
  return {
    key: principal.key,
    admin: principal.admin ? 'true' : 'false',
    customer: principal.admin || principal.customer === undefined ? '' : String(principal.customer),
    privileges: (principal.admin ? PRIVILEGES : (principal.privileges ?? PRIVILEGES)).join(','),
    denied: (denialReason(principal, methodArn) ?? GENERIC_DENIAL).replace(/["\\]/g, ''),
  };
}
