/**
 * A small HTTP client for the integration tests: calls the API as a user would (admin HTTP Basic
 * by default) and polls for conditions with a deadline instead of sleeping.
 */
export const ADMIN = { key: 'admin', secret: 'local-admin-secret' };

export interface Credentials {
  key: string;
  secret: string;
}

export interface ApiResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.key}:${credentials.secret}`).toString('base64')}`;
}

export class QueueClient {
  constructor(
    readonly apiUrl: string,
    readonly credentials: Credentials = ADMIN,
  ) {}

  /** Calls a path (relative to the API root) or an absolute URL the API returned. */
  async call<T = any>(method: string, pathOrUrl: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.apiUrl}${pathOrUrl}`;
    const response = await fetch(url, {
      method,
      headers: {
        authorization: basic(this.credentials),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  get<T = any>(pathOrUrl: string): Promise<ApiResult<T>> {
    return this.call<T>('GET', pathOrUrl);
  }

  async submit(customer: number, member: unknown[], options: { priority?: boolean; idempotencyKey?: string } = {}): Promise<ApiResult> {
    return this.call(
      'POST',
      `/customers/${customer}/queue${options.priority ? '/priority' : ''}`,
      { '@type': 'Collection', member },
      options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {},
    );
  }

  /** Submits and expects 201, returning the batch id. */
  async submitOk(customer: number, member: unknown[], options: { priority?: boolean } = {}): Promise<number> {
    const result = await this.submit(customer, member, options);
    if (result.status !== 201) throw new Error(`submit answered ${result.status}: ${JSON.stringify(result.body).slice(0, 500)}`);
    return result.body.id as number;
  }

  async batch(customer: number, batch: number): Promise<any> {
    const result = await this.get(`/customers/${customer}/queue/batches/${batch}`);
    if (result.status !== 200) throw new Error(`GET batch ${customer}/${batch} answered ${result.status}`);
    return result.body;
  }

  async customerQueue(customer: number): Promise<any> {
    return (await this.get(`/customers/${customer}/queue`)).body;
  }

  /** Waits until every given batch has `finished`, returning the batches. */
  async waitForFinished(customer: number, batches: number[], timeoutMs = 120_000): Promise<any[]> {
    let latest: any[] = [];
    await waitFor(
      async () => {
        latest = await Promise.all(batches.map((b) => this.batch(customer, b)));
        return latest.every((b) => b.finished !== undefined);
      },
      {
        timeoutMs,
        description: () => {
          const state = latest.map((b) => ({
            id: b.id,
            count: b.count,
            completed: b.completed,
            errors: b.errors,
            finished: b.finished ?? null,
          }));
          return `batches ${customer}/${batches.join(',')} to finish: ${JSON.stringify(state)}`;
        },
      },
    );
    return latest;
  }

  /** Every member of a collection, following `next` links. */
  async allMembers(pathOrUrl: string): Promise<any[]> {
    const members: any[] = [];
    let url: string | undefined = pathOrUrl;
    while (url) {
      const page: ApiResult = await this.get(url);
      if (page.status !== 200) throw new Error(`GET ${url} answered ${page.status}`);
      members.push(...page.body.member);
      url = page.body.view?.next;
    }
    return members;
  }

  /**
   * Every member of a listing read from a global secondary index (active, recent, queue images)
   * once `ready` holds: on AWS an index shows a write after a short lag, and strict mode does too.
   */
  async allMembersOnceIndexed(pathOrUrl: string, ready: (members: any[]) => boolean, timeoutMs = 10_000): Promise<any[]> {
    let members: any[] = [];
    await waitFor(
      async () => {
        members = await this.allMembers(pathOrUrl);
        return ready(members);
      },
      {
        timeoutMs,
        description: () => `${pathOrUrl} to show its latest writes (got ${members.length} members)`,
      },
    );
    return members;
  }
}

/** Polls `condition` until it is true or the deadline passes (then throws with a description). */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  options: { timeoutMs?: number; intervalMs?: number; description?: string | (() => string) } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      const what = typeof options.description === 'function' ? options.description() : (options.description ?? 'condition');
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
