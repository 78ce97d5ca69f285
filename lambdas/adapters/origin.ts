/**
 * Fetches an image's origin URL and works out what it is: checks the body is a recognised image and
 * records its type and dimensions.
 *
 * Safety (server-side request forgery): unless `allowPrivate` is set, a literal IP host is checked
 * up front and every connection — including each redirect hop — goes through an agent that checks
 * the address the host name *resolved to* (so `localhost`, `127.0.0.1.nip.io` or a DNS-rebinding
 * name cannot reach loopback, private networks or the cloud metadata service). Two layers do this:
 * our own `lookup` (which gives the readable reason) wrapped by `request-filtering-agent`.
 *
 * Every outcome is an `IngestResult`; this function never throws for anything the origin does.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { imageSize } from 'image-size';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import type { IngestResult } from '../domain/processing';

export interface IngestOptions {
  /** Bound on the whole operation: connect, headers, redirects and body. */
  timeoutMs: number;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Allow loopback/private/link-local origins (local runtime and tests only). */
  allowPrivate: boolean;
  /** Redirects followed before giving up (default 3). */
  maxRedirects?: number;
}

export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// ---------------------------------------------------------------------------------------------
// Address policy
// ---------------------------------------------------------------------------------------------

const CLOUD_METADATA_V4 = '169.254.169.254';

function ipv4Reason(address: ipaddr.IPv4): string | undefined {
  const range = address.range();
  switch (range) {
    case 'unicast':
      return undefined;
    case 'loopback':
      return 'loopback';
    case 'private':
      return 'private network';
    case 'linkLocal':
      return address.toString() === CLOUD_METADATA_V4 ? 'link-local, cloud metadata service' : 'link-local';
    case 'unspecified':
      return 'unspecified';
    case 'carrierGradeNat':
      return 'carrier-grade NAT';
    case 'multicast':
      return 'multicast';
    case 'broadcast':
      return 'broadcast';
    default:
      return `reserved (${range})`;
  }
}

/**
 * Why an origin may not connect to `ip`, or `undefined` when it may (a public unicast address).
 * Refuses loopback, private (RFC 1918), link-local (incl. 169.254.169.254), 0.0.0.0/8, 100.64/10,
 * multicast, broadcast, reserved/documentation ranges, and for IPv6 ::1, ::, fe80::/10, fc00::/7,
 * ff00::/8 and the transition ranges that embed IPv4 addresses. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are judged by their IPv4 address.
 */
export function isForbiddenAddress(ip: string): string | undefined {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(text);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv4') return ipv4Reason(parsed as ipaddr.IPv4);

  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) {
    const reason = ipv4Reason(v6.toIPv4Address());
    return reason === undefined ? undefined : `${reason}, IPv4-mapped`;
  }
  const range = v6.range();
  switch (range) {
    case 'unicast':
      // Deprecated IPv4-compatible addresses (::a.b.c.d): never legitimate on the internet.
      if (v6.parts.slice(0, 6).every((part) => part === 0)) return 'IPv4-compatible';
      return undefined;
    case 'loopback':
      return 'loopback';
    case 'unspecified':
      return 'unspecified';
    case 'linkLocal':
      return 'link-local';
    case 'uniqueLocal':
      return 'unique local, private network';
    case 'multicast':
      return 'multicast';
    case 'rfc6145':
    case 'rfc6052':
    case '6to4':
    case 'teredo':
      return `IPv4 transition range (${range})`;
    default:
      return `reserved (${range})`;
  }
}

class ForbiddenAddressError extends Error {
  readonly code = 'ERR_ORIGIN_ADDRESS_FORBIDDEN';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`origin address ${address} is not allowed (${reason})`);
    this.name = 'ForbiddenAddressError';
  }
}

/**
 * A `lookup` that resolves every address of the host and refuses the connection if *any* of them
 * is forbidden (so a host cannot mix a public and a private address and hope for the latter).
 * Answers in whichever shape (`all` or single) the caller asked for.
 */
const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, '');
      return;
    }
    for (const { address } of addresses) {
      const reason = isForbiddenAddress(address);
      if (reason) {
        callback(new ForbiddenAddressError(address, reason), '');
        return;
      }
    }
    const first = addresses[0];
    if (!first) {
      const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      notFound.code = 'ENOTFOUND';
      callback(notFound, '');
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};

// keepAlive off: one image per connection, nothing left open between invocations or after tests.
const guardedAgents = {
  'http:': new RequestFilteringHttpAgent({ keepAlive: false }),
  'https:': new RequestFilteringHttpsAgent({ keepAlive: false }),
};
const plainAgents = {
  'http:': new http.Agent({ keepAlive: false }),
  'https:': new https.Agent({ keepAlive: false }),
};

// ---------------------------------------------------------------------------------------------
// Results and messages
// ---------------------------------------------------------------------------------------------

const fail = (error: string, retryable: boolean): IngestResult => ({ ok: false, error, retryable });

/** A URL as it may appear in a message: no user:password, no query string or fragment (may hold tokens). */
export function describeUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  copy.hash = '';
  return copy.href;
}

const hostOf = (url: URL) => url.hostname;

/** The host of a URL as an IP literal (IPv6 without brackets), or undefined if it is a name. */
function literalIp(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return net.isIP(host) !== 0 ? host : undefined;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** request-filtering-agent's own refusal: "DNS lookup 127.0.0.1(family:4, host:…) is not allowed. …" */
const FILTER_AGENT_MESSAGE = /^DNS lookup (\S+?)\(family:.*is not allowed/;

function networkFailure(error: unknown, url: URL): IngestResult {
  if (error instanceof ForbiddenAddressError) return fail(error.message, false);
  const err = (error ?? {}) as NodeJS.ErrnoException;
  const message = typeof err.message === 'string' ? err.message : '';
  const filtered = FILTER_AGENT_MESSAGE.exec(message);
  if (filtered) {
    const address = filtered[1] as string;
    return fail(`origin address ${address} is not allowed (${isForbiddenAddress(address) ?? 'private or reserved address'})`, false);
  }
  const code = typeof err.code === 'string' ? err.code : undefined;
  const host = hostOf(url);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return fail(`origin host ${host} could not be resolved`, false);
    case 'EAI_AGAIN':
      return fail(`origin host ${host} could not be resolved (temporary DNS failure)`, true);
    case 'ECONNREFUSED':
      return fail(`origin ${host} refused the connection`, true);
    case 'ECONNRESET':
    case 'EPIPE':
      return fail(`origin ${host} closed the connection unexpectedly`, true);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return fail(`origin ${host} could not be reached (${code})`, true);
    default:
      break;
  }
  if (code && TLS_CODES.has(code)) return fail(`origin ${host} presented an unacceptable TLS certificate (${code})`, false);
  if (code?.startsWith('HPE_')) return fail(`origin ${host} sent an invalid HTTP response (${code})`, false);
  if (code === 'EPROTO' || code?.startsWith('ERR_SSL') || code?.startsWith('ERR_TLS')) {
    return fail(`origin ${host} TLS handshake failed (${code})`, true);
  }
  return fail(`origin request to ${host} failed (${code ?? 'unknown network error'})`, true);
}

// ---------------------------------------------------------------------------------------------
// Media types
// ---------------------------------------------------------------------------------------------

const MEDIA_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  cur: 'image/x-icon',
  jp2: 'image/jp2',
  j2c: 'image/x-j2c',
  jxl: 'image/jxl',
  'jxl-stream': 'image/jxl',
  psd: 'image/vnd.adobe.photoshop',
  dds: 'image/vnd-ms.dds',
  ktx: 'image/ktx',
  icns: 'image/icns',
  pnm: 'image/x-portable-anymap',
  tga: 'image/x-tga',
  // HEIF family: image-size reports the ftyp brand.
  heif: 'image/heif',
  mif1: 'image/heif',
  msf1: 'image/heif-sequence',
  heic: 'image/heic',
  heix: 'image/heic',
  heim: 'image/heic',
  heis: 'image/heic',
  hevc: 'image/heic-sequence',
  hevx: 'image/heic-sequence',
  hevm: 'image/heic-sequence',
  hevs: 'image/heic-sequence',
  avif: 'image/avif',
  avis: 'image/avif',
};

/** The media type for an image-size type name (`jpg` -> `image/jpeg`). */
export function mediaTypeFor(type: string): string {
  return MEDIA_TYPES[type] ?? `image/x-${type.replace(/[^a-z0-9.+-]/gi, '')}`;
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

interface Attempt {
  signal: AbortSignal;
  /** The request in flight, destroyed on timeout. */
  current?: http.ClientRequest;
}

function get(url: URL, options: IngestOptions, attempt: Attempt): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const scheme = url.protocol as 'http:' | 'https:';
    const transport = scheme === 'https:' ? https : http;
    const request = transport.request(
      url,
      {
        method: 'GET',
        agent: options.allowPrivate ? plainAgents[scheme] : guardedAgents[scheme],
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
        signal: attempt.signal,
        headers: {
          accept: 'image/*, */*;q=0.5',
          'accept-encoding': 'identity',
          'user-agent': 'image-queue-origin-ingest/1.0',
        },
      },
      resolve,
    );
    attempt.current = request;
    request.once('error', reject);
    request.end();
  });
}

const TOO_LARGE = Symbol('too large');

/**
 * Bytes of an origin kept in memory to identify it: every supported format states its dimensions
 * near the start, and a processor handles ten origins at once, so keeping whole 25 MB files would
 * risk running out of memory. The rest is only counted (contentLength, the size limit).
 */
export const PROBE_BYTES = 4 * 1024 * 1024;

async function readBody(response: http.IncomingMessage, maxBytes: number): Promise<{ head: Buffer; length: number } | typeof TOO_LARGE> {
  const chunks: Buffer[] = [];
  let total = 0;
  let kept = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      response.destroy();
      return TOO_LARGE;
    }
    if (kept < PROBE_BYTES) {
      const part = chunk.subarray(0, PROBE_BYTES - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  return { head: Buffer.concat(chunks, kept), length: total };
}

function checkUrl(url: URL, allowPrivate: boolean, redirected: boolean): IngestResult | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return redirected
      ? fail(`origin redirected to an unsupported URL scheme ${url.protocol} (only http and https are fetched)`, false)
      : fail(`origin URL scheme ${url.protocol} is not supported (only http and https are fetched)`, false);
  }
  if (!url.hostname) return fail('origin URL has no host', false);
  const ip = literalIp(url);
  if (ip !== undefined && CLOUD_METADATA.has(ip)) {
    // Never useful as an image origin, even where private origins are allowed (local runs).
    return fail(`origin address ${ip} is not allowed (${isForbiddenAddress(ip) ?? 'cloud metadata service'})`, false);
  }
  if (!allowPrivate) {
    const reason = ip === undefined ? undefined : isForbiddenAddress(ip);
    if (ip !== undefined && reason) return fail(`origin address ${ip} is not allowed (${reason})`, false);
  }
  return undefined;
}

/** Instance metadata endpoints (AWS IPv4 and IPv6, ECS task metadata). */
const CLOUD_METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2']);

function recognise(body: Buffer, length: number, response: http.IncomingMessage): IngestResult {
  const servedAs = response.headers['content-type'];
  const served = servedAs ? `; served as ${servedAs.split(';')[0]?.trim()}` : '';
  if (body.length === 0) return fail(`origin is not a recognised image (empty response${served})`, false);
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(body);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const detail = /^unsupported file type: undefined$/.test(why) ? 'unknown format' : why;
    return fail(`origin is not a recognised image (${detail}${served})`, false);
  }
  const { width, height, type } = size;
  if (!type || !(Number.isFinite(width) && width > 0) || !(Number.isFinite(height) && height > 0)) {
    return fail(`origin is not a recognised image (${type ?? 'unknown'} without dimensions${served})`, false);
  }
  return { ok: true, width, height, mediaType: mediaTypeFor(type), contentLength: length };
}

async function run(start: URL, options: IngestOptions, attempt: Attempt): Promise<IngestResult> {
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const refused = checkUrl(url, options.allowPrivate, redirects > 0);
    if (refused) return refused;

    let response: http.IncomingMessage;
    try {
      response = await get(url, options, attempt);
    } catch (error) {
      return networkFailure(error, url);
    }
    const status = response.statusCode ?? 0;

    if (REDIRECT_STATUSES.has(status)) {
      const location = response.headers.location;
      response.destroy();
      if (!location) return fail(`origin answered HTTP ${status} without a Location header`, false);
      if (redirects >= maxRedirects) {
        return fail(`origin redirected more than ${maxRedirects} times (last from ${describeUrl(url)})`, false);
      }
      try {
        url = new URL(location, url);
      } catch {
        return fail(`origin answered HTTP ${status} with an invalid Location header`, false);
      }
      continue;
    }

    if (status < 200 || status > 299) {
      response.destroy();
      return fail(`origin answered HTTP ${status}`, status >= 500 || status === 429);
    }

    const declared = Number(response.headers['content-length']);
    if (response.headers['content-length'] !== undefined && Number.isFinite(declared) && declared > options.maxBytes) {
      response.destroy();
      return fail(`origin is larger than ${options.maxBytes} bytes`, false);
    }

    let body: { head: Buffer; length: number } | typeof TOO_LARGE;
    try {
      body = await readBody(response, options.maxBytes);
    } catch (error) {
      return networkFailure(error, url);
    }
    if (body === TOO_LARGE) return fail(`origin is larger than ${options.maxBytes} bytes`, false);
    return recognise(body.head, body.length, response);
  }
}

/**
 * Fetch `origin` and identify the image it serves. Resolves with the image's dimensions and media
 * type, or with a readable, credential-free error and whether trying again later could help.
 */
export async function ingestOrigin(origin: string, options: IngestOptions): Promise<IngestResult> {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return fail('origin is not a valid URL', false);
  }

  const controller = new AbortController();
  const attempt: Attempt = { signal: controller.signal };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<IngestResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      attempt.current?.destroy();
      resolve(fail(`origin did not respond within ${options.timeoutMs} ms`, true));
    }, options.timeoutMs);
  });
  const work = run(url, options, attempt).catch((error: unknown) => networkFailure(error, url));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    // Whatever happened, nothing of this request may stay open.
    attempt.current?.destroy();
  }
}
