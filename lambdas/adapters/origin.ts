/**
 * Fetches an image's origin URL and works out what it is: checks the body is a recognised image and
 * records its type and dimensions. Which addresses it may connect to is origin-guard.ts's concern
 * (server-side request forgery): every request and redirect hop goes through it.
 *
 * Every outcome is an `IngestResult`; this function never throws for anything the origin does.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { imageSize } from 'image-size';
import type { IngestResult } from '../domain/processing';
import { connectionOptions, connectionRefusal, literalAddressRefusal } from './origin-guard';

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

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function networkFailure(error: unknown, url: URL): IngestResult {
  const refused = connectionRefusal(error);
  if (refused) return fail(refused, false);
  const err = (error ?? {}) as NodeJS.ErrnoException;
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
        ...connectionOptions(scheme, options.allowPrivate),
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
  const refused = literalAddressRefusal(url, allowPrivate);
  return refused === undefined ? undefined : fail(refused, false);
}

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
