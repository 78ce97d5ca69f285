/**
 * The credentials of an `Authorization` header (RFC 7617 Basic, or Bearer): the authorizer's first
 * step. What a valid key id and secret look like is the domain's (domain/auth.ts).
 */
import { type Credentials, KEY_PATTERN, MAX_SECRET_LENGTH } from '../domain/auth';

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
