/**
 * zod schemas of the API's path, query and header parameters, with the limits the handlers
 * enforce (hydra.ts pageParams, api.ts intParam, domain/operator.ts parseLoadQuery,
 * domain/long-poll.ts, api-submit.ts). They feed the generated OpenAPI document (openapi.ts); the
 * limits come from config and the domain so the document changes when a limit does.
 */
import { z } from 'zod';
import { DEFAULTS } from '../config/resources';
import { LONG_POLL_SECONDS } from '../domain/long-poll';
import { LOAD_PAGE_SIZE } from '../domain/operator';
import { assetSchema } from '../domain/validation';
import { ASSET_NAME } from './static-assets';

export interface ParameterSpec {
  in: 'path' | 'query' | 'header';
  /** The name on the wire (defaults to the key in PARAMETERS). */
  name?: string;
  schema: z.core.$ZodType;
  description: string;
  required?: boolean;
  /** A query parameter that may be repeated (`?customer=1&customer=2`). */
  repeatable?: boolean;
}

/** Path ids: integers of up to 12 digits; anything else is a resource that does not exist (404). */
const pathId = (what: string): ParameterSpec => ({
  in: 'path',
  schema: z.int().nonnegative().max(999_999_999_999),
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
    description: 'Asset id within the space (1–200 of A–Z, a–z, 0–9, ".", "_", "~", "-"; not only dots). Anything else answers 404.',
    required: true,
  },
  key: { in: 'path', schema: z.string().min(1), description: 'The API key (its public part).', required: true },
  asset: {
    in: 'path',
    schema: z.string().regex(ASSET_NAME),
    description: 'A file name of the console build (`index-<hash>.js`, `index-<hash>.css`).',
    required: true,
  },
  page: {
    in: 'query',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,2048}$/),
    description:
      'Which page: the opaque token of a `next` link (efficient forward paging), or a 1-based page number as DLCS clients send it. Anything else answers 400.',
  },
  pageSize: {
    in: 'query',
    schema: z.int().min(1).max(DEFAULTS.maxPageSize).default(DEFAULTS.pageSize),
    description: `Items per page, 1–${DEFAULTS.maxPageSize} (else 400). A page may hold fewer: it also ends at 5 MiB of items.`,
  },
  order: {
    in: 'query',
    schema: z.enum(['asc', 'desc']).default('asc'),
    description: '`asc`: the top of the queue (next to be processed) first; `desc`: the bottom first.',
  },
  wait: {
    in: 'query',
    schema: z.int().min(LONG_POLL_SECONDS.min).max(LONG_POLL_SECONDS.max),
    description: `Long-poll: answer when the batch finishes or after this many seconds, whichever comes first (${LONG_POLL_SECONDS.min}–${LONG_POLL_SECONDS.max}, else 400).`,
  },
  started: {
    in: 'query',
    schema: z.string(),
    description:
      'Start of the range: an ISO-8601 date-time (`2015-01-01T00:00:00Z`) or a duration before now (`PT3H`, `P1D`). Default: 7 days ago.',
  },
  ended: {
    in: 'query',
    schema: z.string(),
    description: 'End of the range, in the same formats. Default: now. Not before `started`; the range may be at most 31 days (else 400).',
  },
  loadCustomer: {
    in: 'query',
    name: 'customer',
    schema: z.array(z.int().nonnegative()),
    repeatable: true,
    description:
      'Customer ids to sum over (repeat for several). Admin keys: all customers by default; a customer key: only its own (another answers 403).',
  },
  queue: {
    in: 'query',
    schema: z.array(z.enum(['main', 'priority'])),
    repeatable: true,
    description: 'Queues to count (repeat for both, the default).',
  },
  operatorPage: {
    in: 'query',
    name: 'page',
    schema: z.int().min(1).default(1),
    description: 'Page number from 1 (else 400).',
  },
  page_size: {
    in: 'query',
    schema: z.int().min(1).max(LOAD_PAGE_SIZE.max).default(LOAD_PAGE_SIZE.default),
    description: `Items per page, 1–${LOAD_PAGE_SIZE.max} (else 400).`,
  },
  idempotencyKey: {
    in: 'header',
    name: 'Idempotency-Key',
    schema: z.string().regex(/^[A-Za-z0-9._~:-]{1,128}$/),
    description:
      'Makes a retried POST return the same batch (200) instead of creating another. Scoped to the customer and route; the same key with a different body answers 422; a malformed key 400.',
  },
} satisfies Record<string, ParameterSpec>;

export type ParameterName = keyof typeof PARAMETERS;
