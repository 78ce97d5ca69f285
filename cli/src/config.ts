/**
 * Where the CLI finds the API, the credential and the customer: flags first, then the environment
 * (IMAGE_QUEUE_URL, IMAGE_QUEUE_KEY, IMAGE_QUEUE_CUSTOMER), so scripts can set them once.
 */
import { CliError } from './errors';

export const ENV_NAMES = { api: 'IMAGE_QUEUE_URL', key: 'IMAGE_QUEUE_KEY', customer: 'IMAGE_QUEUE_CUSTOMER' } as const;

/** The options every command accepts (declared once on the program). */
export interface GlobalOptions {
  api?: string;
  key?: string;
  customer?: string;
  json?: boolean;
}

type Env = Record<string, string | undefined>;

/** The API's base URL without a trailing slash (on AWS it ends in the stage, e.g. `/prod`). */
export function apiUrl(options: GlobalOptions, env: Env = process.env): string {
  const raw = options.api ?? env[ENV_NAMES.api];
  if (!raw) throw new CliError(`No API URL: pass --api URL or set ${ENV_NAMES.api}.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--api must be an http(s) URL, not '${raw}'.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--api must be an http(s) URL, not '${raw}'.`);
  return url.href.replace(/\/+$/, '');
}

/** `KEY:SECRET`, checked for its form; undefined when none is given (only `queue` needs none). */
export function credential(options: GlobalOptions, env: Env = process.env): string | undefined {
  const raw = options.key ?? env[ENV_NAMES.key];
  if (raw === undefined || raw === '') return undefined;
  const colon = raw.indexOf(':');
  if (colon < 1 || colon === raw.length - 1) throw new CliError('--key must be KEY:SECRET (as printed by `image-queue keys create`).');
  return raw;
}

export function requireCredential(options: GlobalOptions, env: Env = process.env): string {
  const key = credential(options, env);
  if (!key) throw new CliError(`No credential: pass --key KEY:SECRET or set ${ENV_NAMES.key}.`);
  return key;
}

/**
 * The customer to act on. The API has no route that names a key's own customer, so it must be
 * given; `fallback` serves commands with a sensible default (smoke: customer 1).
 */
export function customerId(options: GlobalOptions, env: Env = process.env, fallback?: number): number {
  const raw = options.customer ?? env[ENV_NAMES.customer];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new CliError(
      `No customer: pass --customer N or set ${ENV_NAMES.customer} ` +
        "(a customer key's own customer is found by itself; an admin key needs one).",
    );
  }
  return nonNegativeInteger(raw, '--customer');
}

/** The customer when one is given (commands where it only narrows what is shown, e.g. `load`). */
export function givenCustomer(options: GlobalOptions, env: Env = process.env): number | undefined {
  const raw = options.customer ?? env[ENV_NAMES.customer];
  return raw === undefined || raw === '' ? undefined : nonNegativeInteger(raw, '--customer');
}

/** Parses an option that must be an integer ≥ 0 (commander hands options over as strings). */
export function nonNegativeInteger(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw.trim())) throw new CliError(`${name} must be an integer ≥ 0, not '${raw}'.`);
  return Number(raw.trim());
}
