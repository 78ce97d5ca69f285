/**
 * The API's path, query and header parameters: each rule once, as a zod schema of the value, read
 * by the handlers (`parameterValue`, api.ts `intParam`, hydra.ts `pageParams`, operator-query.ts)
 * and described by the generated OpenAPI document (openapi.ts), so the two cannot disagree. The
 * limits come from config and the domain. zod/mini, as the handlers bundle it (see validation.ts).
 */
import * as z from 'zod/mini';
import { DEFAULTS } from '../config/resources';
import { LONG_POLL_SECONDS } from '../domain/long-poll';
import { LOAD_PAGE_SIZE, STATUS_PAGE_SIZE } from '../domain/operator';
import { assetSchema } from '../domain/validation';
import { MAX_ID } from './path-ids';
import { HttpError } from './problem';
import { ASSET_NAME } from './static-assets';

export interface ParameterSpec {
  in: 'path' | 'query' | 'header';
  /** The name on the wire (defaults to the key in PARAMETERS). */
  name?: string;
  /** The value's schema (one value of a repeatable parameter): what the service checks and the document says. */
  schema: z.ZodMiniType;
  /** Whether the wire text is read as a whole number before the schema checks it. */
  integer?: boolean;
  /** The rule in words, for the answer to a value that breaks it. */
  rule: string;
  description: string;
  required?: boolean;
  /** A query parameter that may be repeated (`?customer=1&customer=2`). */
  repeatable?: boolean;
}

/** The largest page number of the operator pages (beyond their last page they are empty). */
const MAX_OPERATOR_PAGE = 999_999_999;

function integer(min: number, max: number): { schema: z.ZodMiniInt; integer: true; rule: string };
function integer(min: number, max: number, fallback: number): { schema: z.ZodMiniDefault<z.ZodMiniInt>; integer: true; rule: string };
function integer(min: number, max: number, fallback?: number) {
  const schema = z.int().check(z.gte(min), z.lte(max));
  return {
    schema: fallback === undefined ? schema : z._default(schema, fallback),
    integer: true as const,
    rule: `an integer from ${min} to ${max}`,
  };
}

/** Path ids: anything but an integer of the range is a resource that does not exist (404). */
const pathId = (what: string) => ({
  in: 'path' as const,
  ...integer(0, MAX_ID),
  description: `${what} id (an integer; anything else answers 404).`,
  required: true,
});

export const PARAMETERS = {
  customer: pathId('Customer'),
  batch: pathId('Batch'),
  space: pathId('Space'),
  image: {
    in: 'path',
    // The submit's own rule, so an id that could never be stored is not advertised.
    schema: assetSchema.shape.id,
    rule: '1–200 of A–Z, a–z, 0–9, ".", "_", "~", "-", not only dots',
    description: 'Asset id within the space (1–200 of A–Z, a–z, 0–9, ".", "_", "~", "-"; not only dots). Anything else answers 404.',
    required: true,
  },
  key: {
    in: 'path',
    schema: z.string().check(z.minLength(1)),
    rule: 'not empty',
    description: 'The API key (its public part).',
    required: true,
  },
  asset: {
    in: 'path',
    schema: z.string().check(z.regex(ASSET_NAME)),
    rule: 'a file name of the console build',
    description: 'A file name of the console build (`index-<hash>.js`, `index-<hash>.css`).',
    required: true,
  },
  page: {
    in: 'query',
    schema: z.string().check(z.minLength(1), z.maxLength(2048), z.regex(/^[A-Za-z0-9_-]*$/)),
    rule: 'a page number or the token of a next link',
    description:
      'Which page: the opaque token of a `next` link (efficient forward paging), or a 1-based page number as DLCS clients send it. ' +
      'Anything else answers 400.',
  },
  pageSize: {
    in: 'query',
    ...integer(1, DEFAULTS.maxPageSize, DEFAULTS.pageSize),
    description: `Items per page, 1–${DEFAULTS.maxPageSize} (else 400). A page may hold fewer: it also ends at 5 MiB of items.`,
  },
  order: {
    in: 'query',
    schema: z._default(z.enum(['asc', 'desc']), 'asc'),
    rule: "'asc' (top of the queue first) or 'desc' (bottom first)",
    description: '`asc`: the top of the queue (next to be processed) first; `desc`: the bottom first.',
  },
  wait: {
    in: 'query',
    ...integer(LONG_POLL_SECONDS.min, LONG_POLL_SECONDS.max),
    description:
      'Long-poll: answer when the batch finishes or after this many seconds, ' +
      `whichever comes first (${LONG_POLL_SECONDS.min}–${LONG_POLL_SECONDS.max}, else 400).`,
  },
  started: {
    in: 'query',
    schema: z.string(),
    rule: 'an ISO-8601 date-time or duration',
    description:
      'Start of the range: an ISO-8601 date-time (`2015-01-01T00:00:00Z`) or a duration before now (`PT3H`, `P1D`). Default: 7 days ago.',
  },
  ended: {
    in: 'query',
    schema: z.string(),
    rule: 'an ISO-8601 date-time or duration',
    description: 'End of the range, in the same formats. Default: now. Not before `started`; the range may be at most 31 days (else 400).',
  },
  loadCustomer: {
    in: 'query',
    name: 'customer',
    ...integer(0, MAX_ID),
    repeatable: true,
    description:
      'Customer ids to sum over (repeat for several). Admin keys: all customers by default; ' +
      'a customer key: only its own (another answers 403).',
  },
  queue: {
    in: 'query',
    schema: z.enum(['main', 'priority']),
    rule: "'main' or 'priority'",
    repeatable: true,
    description: 'Queues to count (repeat for both, the default).',
  },
  operatorPage: {
    in: 'query',
    name: 'page',
    ...integer(1, MAX_OPERATOR_PAGE, 1),
    description: `Page number, 1–${MAX_OPERATOR_PAGE} (else 400).`,
  },
  loadPageSize: {
    in: 'query',
    name: 'page_size',
    ...integer(1, LOAD_PAGE_SIZE.max, LOAD_PAGE_SIZE.default),
    description: `Items per page, 1–${LOAD_PAGE_SIZE.max} (else 400).`,
  },
  statusPageSize: {
    in: 'query',
    name: 'page_size',
    ...integer(1, STATUS_PAGE_SIZE.max, STATUS_PAGE_SIZE.default),
    description: `Items per page, 1–${STATUS_PAGE_SIZE.max} (else 400).`,
  },
  idempotencyKey: {
    in: 'header',
    name: 'Idempotency-Key',
    // No '#': submit.ts scopes stored keys by route with it.
    schema: z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9._~:-]*$/)),
    rule: '1–128 characters of letters, digits and . _ ~ : -',
    description:
      'Makes a retried POST return the same batch (200) instead of creating another. Scoped to the customer and route; ' +
      'the same key with a different body answers 422; a malformed key 400.',
  },
} satisfies Record<string, ParameterSpec>;

export type ParameterName = keyof typeof PARAMETERS;
type Schema<N extends ParameterName> = (typeof PARAMETERS)[N]['schema'];
/** A parameter's value; undefined when it is absent and has no default. */
type ParameterValue<N extends ParameterName> =
  | z.output<Schema<N>>
  | (Schema<N> extends z.ZodMiniDefault<z.ZodMiniType> ? never : undefined);

/** The value of `raw` under a parameter's rule, or undefined when it breaks it. */
export function checkedValue<N extends ParameterName>(name: N, raw: string): z.output<Schema<N>> | undefined {
  const spec: ParameterSpec = PARAMETERS[name];
  // Whole numbers only: Number() would also take '', ' 1', '1e3' and '0x10'.
  const value = spec.integer ? (/^\d+$/.test(raw) ? Number(raw) : Number.NaN) : raw;
  const result = spec.schema.safeParse(value);
  return result.success ? (result.data as z.output<Schema<N>>) : undefined;
}

/**
 * A query parameter or header as its rule reads it: its default (or undefined) when absent, a 400
 * naming the rule when `raw` breaks it.
 */
export function parameterValue<N extends ParameterName>(name: N, raw: string): z.output<Schema<N>>;
export function parameterValue<N extends ParameterName>(name: N, raw: string | undefined): ParameterValue<N>;
export function parameterValue<N extends ParameterName>(name: N, raw: string | undefined): ParameterValue<N> {
  const spec: ParameterSpec = PARAMETERS[name];
  if (raw === undefined) {
    const fallback = spec.schema.safeParse(undefined);
    return (fallback.success ? fallback.data : undefined) as ParameterValue<N>;
  }
  const value = checkedValue(name, raw);
  if (value === undefined) throw new HttpError(400, `'${spec.name ?? name}' must be ${spec.rule}, not '${raw.slice(0, 100)}'.`);
  return value;
}
