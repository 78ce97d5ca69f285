/**
 * The API client: every call is `fetch(new URL(path, apiRoot))` with HTTP Basic credentials.
 * Paths are relative (`customers/7/queue`) so that a stage prefix (`/prod/`) is kept; links the
 * API returns are absolute and used as given. Error bodies become an `ApiError` carrying `detail`;
 * a 429 is waited out (Retry-After) and retried; a 401 signs out through `onUnauthorized`.
 */
import { setMessage } from './dom';
import type { MemberProblem } from './types';

/** The API root of the page: `/prod/console` → `/prod/`, `/console` → `/`. */
export function apiRootOf(location: Location | URL): URL {
  return new URL('.', location.href);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: MemberProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The request was aborted (sign-out, customer switch, view closed): nothing to show. */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

interface ErrorBody {
  title?: unknown;
  detail?: unknown;
  errors?: unknown;
}

const MAX_THROTTLE_RETRIES = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/** `Basic base64(key:secret)`, UTF-8 safe. */
export function basicAuthorization(credentials: string): string {
  const bytes = new TextEncoder().encode(credentials);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

/** Seconds to wait from a Retry-After header (seconds or an HTTP date), 1 at least. */
export function retryAfterSeconds(header: string | null): number {
  if (!header) return 1;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.min(Math.max(Math.ceil(seconds), 1), MAX_RETRY_AFTER_SECONDS);
  const date = Date.parse(header);
  if (Number.isNaN(date)) return 1;
  return Math.min(Math.max(Math.ceil((date - Date.now()) / 1000), 1), MAX_RETRY_AFTER_SECONDS);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new DOMException('Aborted', 'AbortError'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException('Aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Api {
  constructor(
    readonly root: URL,
    private readonly credentials: string,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  /** A path relative to the API root, or an absolute URL the API returned. */
  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.root);
  }

  async request<T>(method: string, pathOrUrl: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {
      ...options.headers,
      Authorization: basicAuthorization(this.credentials),
      Accept: 'application/json',
    };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const init: RequestInit = {
      method,
      headers,
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const url = this.url(pathOrUrl);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        if (isAbort(error) || options.signal?.aborted) throw new DOMException('Aborted', 'AbortError');
        throw new ApiError(0, `Cannot reach the API (${error instanceof Error ? error.message : String(error)}).`);
      }
      if (response.status === 429 && attempt < MAX_THROTTLE_RETRIES) {
        await response.body?.cancel().catch(() => {});
        await sleep(retryAfterSeconds(response.headers.get('Retry-After')) * 1000, options.signal);
        continue;
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      if (response.ok) return { status: response.status, body: body as T };
      if (response.status === 401) this.onUnauthorized();
      throw errorFrom(response, body);
    }
  }

  get<T>(pathOrUrl: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', pathOrUrl, signal ? { signal } : {}).then((r) => r.body);
  }
}

function errorFrom(response: Response, body: unknown): ApiError {
  const error = (typeof body === 'object' && body !== null ? body : {}) as ErrorBody;
  const detail = typeof error.detail === 'string' && error.detail !== '' ? error.detail : undefined;
  const title = typeof error.title === 'string' && error.title !== '' ? error.title : undefined;
  const message = detail ?? title ?? `The API answered ${response.status} ${response.statusText}`.trim();
  const problems = Array.isArray(error.errors) ? (error.errors as MemberProblem[]) : [];
  return new ApiError(response.status, message, problems);
}

/** A one-line description of a member problem of a 422: `member 3 origin: must be a URL`. */
export function describeProblem(problem: MemberProblem): string {
  const where = [`member ${problem.member ?? '?'}`, problem.field].filter(Boolean).join(' ');
  return `${where}: ${problem.message ?? 'invalid'}`;
}

/** The message to show for a failed call. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Shows why a refresh failed in the section's alert, unless there is nothing to say: the load was
 * aborted (the view changed), or the key was refused (the app signs out and says so itself).
 */
export function reportLoadError(error: unknown, signal: AbortSignal, alert: HTMLElement): void {
  if (isAbort(error) || signal.aborted) return;
  if (error instanceof ApiError && error.status === 401) return;
  setMessage(alert, messageOf(error));
}
