/**
 * The CLI's HTTP client: HTTP Basic `key:secret`, JSON bodies, the service's error bodies turned
 * into one-line messages, short 429 throttles waited out, and hydra collections followed page by page.
 */
import { CliError } from './errors';

/** The service's error body (`@type` Error, as every route and the gateway answer). */
interface ErrorBody {
  title?: string;
  detail?: string;
  errors?: { member?: number; field?: string; message?: string }[];
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses handed back to the caller instead of thrown (2xx always are). */
  accept?: number[];
  /** Send no credential, whatever the client holds (e.g. to check that one is required). */
  anonymous?: boolean;
}

/** Every request ends within this; the longest legitimate one is a 20 s long-poll. */
const REQUEST_TIMEOUT_MS = 60_000;
/** A 429 whose Retry-After is this short is a per-second throttle: wait and try again. */
const MAX_THROTTLE_WAIT_SECONDS = 10;
const MAX_THROTTLE_RETRIES = 5;

export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const HINTS: Record<number, string> = {
  401: 'the key or secret is missing or wrong (--key KEY:SECRET or IMAGE_QUEUE_KEY)',
  413: 'the request body is too large (try a smaller --batch-size)',
};

/** One line saying what went wrong: status, the server's `detail`, the first member problems, Retry-After. */
export function describeFailure(status: number, statusText: string, body: unknown, headers: Headers, what: string): string {
  const error = (typeof body === 'object' && body !== null ? body : {}) as ErrorBody;
  const parts = [`${what}: ${status} ${error.title ?? statusText}`];
  const detail = error.detail ?? (typeof body === 'string' && body.length < 200 ? body.trim() : '');
  if (detail) parts.push(detail.replace(/\s+/g, ' '));
  const hint = HINTS[status];
  if (hint) parts.push(hint);
  const problems = Array.isArray(error.errors) ? error.errors : [];
  if (problems.length > 0) {
    const shown = problems.slice(0, 3).map((p) => `member ${p.member ?? '?'} ${p.field ?? ''}: ${p.message ?? ''}`.replace(/ +:/, ':'));
    parts.push(shown.join('; ') + (problems.length > 3 ? ` (+${problems.length - 3} more)` : ''));
  }
  const retryAfter = headers.get('retry-after');
  if ((status === 429 || status === 503) && retryAfter) parts.push(`retry after ${retryAfter} s (Retry-After)`);
  return parts.join(' — ');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ApiClient {
  constructor(
    /** Base URL without a trailing slash. */
    readonly base: string,
    private readonly credential?: string,
  ) {}

  /** A path under the API root, or an absolute URL the API returned (links are absolute). */
  url(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
  }

  async request<T = unknown>(method: string, pathOrUrl: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = this.url(pathOrUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.credential && !options.anonymous) headers.authorization = `Basic ${Buffer.from(this.credential).toString('base64')}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) };
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(`${method} ${url}: cannot reach the API (${cause?.code ?? cause?.message ?? (error as Error).message})`);
      }
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON (a proxy's page): keep the text for the message.
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      if (response.status === 429 && retryAfter <= MAX_THROTTLE_WAIT_SECONDS && attempt < MAX_THROTTLE_RETRIES) {
        await sleep(Math.max(retryAfter, 1) * 1000);
        continue;
      }
      if (response.ok || options.accept?.includes(response.status)) {
        return { status: response.status, headers: response.headers, body: body as T };
      }
      throw new ApiError(
        response.status,
        describeFailure(response.status, response.statusText, body, response.headers, `${method} ${url}`),
      );
    }
  }

  get<T = unknown>(pathOrUrl: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', pathOrUrl, options);
  }

  /** Every member of a hydra collection, following `view.next` to its end. */
  async collect<T = unknown>(pathOrUrl: string): Promise<T[]> {
    type Page = { member?: T[]; view?: { next?: string } };
    const members: T[] = [];
    let next: string | undefined = pathOrUrl;
    while (next) {
      const page: Page = (await this.get<Page>(next)).body;
      members.push(...(page.member ?? []));
      next = page.view?.next;
    }
    return members;
  }
}
