import type { Api } from './api';
import type { Caller, Privilege } from './types';

/** What every view of one customer's queue shares; `signal` aborts when the user signs out or switches customer. */
export interface Context {
  api: Api;
  caller: Caller;
  customer: number;
  signal: AbortSignal;
}

export function can(ctx: Context, privilege: Privilege): boolean {
  return ctx.caller.admin || ctx.caller.privileges.includes(privilege);
}

/** `…/batches/42` → 42, for the batch links (retryOf, retries). */
export function batchIdFromUrl(url: string): number | undefined {
  const match = /\/batches\/(\d+)\/?(?:[?#].*)?$/.exec(url);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A link the API returned, with `pageSize` set (and any page token kept). */
export function withPageSize(url: string, pageSize: number): string {
  const u = new URL(url);
  u.searchParams.set('pageSize', String(pageSize));
  return u.href;
}
