/**
 * zod schemas of what the API answers (the JSON-LD resources of hydra.ts, the error body of
 * problem.ts, the key and operator resources). They document the responses in the generated
 * OpenAPI document (openapi.ts); test/unit/openapi.test.ts parses real rendered output with them,
 * so a field added to a resource without being described here fails a test. Strict objects for
 * that reason: an undocumented field is an error, not something to pass through.
 */
import { z } from 'zod';
import { PRIVILEGES } from '../config/routes';
import { CONTEXT_URL } from './problem';

const context = z.literal(CONTEXT_URL).describe('The JSON-LD context (DLCS vocabulary).');
const id = z.url().describe('Absolute URL of this resource.');
const link = (what: string) => z.url().describe(what);
const count = (what: string) => z.int().nonnegative().describe(what);
const time = (what: string) => z.iso.datetime().describe(`${what} (ISO-8601 UTC with milliseconds).`);

export const batchSchema = z
  .strictObject({
    '@context': context,
    '@id': id,
    '@type': z.literal('vocab:Batch'),
    id: count('The batch id, unique per customer.'),
    submitted: time('When the POST was accepted'),
    count: count('Members in the batch.'),
    completed: count('Members ingested successfully.'),
    errors: count('Members that failed.'),
    cancelled: count('Members cancelled before a processor picked them up.').optional(),
    finished: time('When the last member reached a terminal state; absent until then').optional(),
    superseded: z.boolean().describe("True when every member's asset was re-submitted in a later batch."),
    estCompletion: time(
      "Estimated completion while unfinished (the batch's observed rate, or the queue's throughput before it starts)",
    ).optional(),
    cancelledAt: time('When a client cancelled the batch').optional(),
    retryOf: link('The batch whose error members this batch retries.').optional(),
    retries: z.array(z.url()).describe('Batches created to retry this batch’s error members, oldest first.').optional(),
    images: link('Every member of the batch, any state.'),
    completedImages: link('Members ingested successfully.'),
    errorImages: link('Members that failed, each with its error.'),
    test: link('POST here to re-evaluate superseded and finished.'),
  })
  .describe('vocab:Batch: one POST of a collection of images, and its progress.');

export const imageSchema = z
  .strictObject({
    '@context': context.optional().describe('Present on a single image; absent on collection members.'),
    '@id': id,
    '@type': z.literal('vocab:Image'),
    id: z.string().describe('The asset id within its space.'),
    space: count('The space (a partition inside the customer).'),
    origin: z.url().describe('Where the image is fetched from.'),
    mediaType: z.string().optional(),
    family: z.enum(['I', 'T', 'F']),
    string1: z.string().optional(),
    string2: z.string().optional(),
    string3: z.string().optional(),
    number1: z.int().optional(),
    number2: z.int().optional(),
    number3: z.int().optional(),
    tags: z.array(z.string()).optional(),
    roles: z.array(z.string()).optional(),
    maxUnauthorised: z.int().optional(),
    width: count('Set once ingested.').optional(),
    height: count('Set once ingested.').optional(),
    contentLength: count('Bytes of the origin, set once ingested.').optional(),
    ingesting: z.boolean().describe('True while waiting or being processed.'),
    state: z.enum(['waiting', 'running', 'completed', 'error', 'cancelled']).optional(),
    error: z.string().describe('Why ingesting failed (the last error while still retrying).').optional(),
    finished: time('When processing ended').optional(),
    batch: link('The batch the image is current in.'),
  })
  .describe('vocab:Image: an asset as submitted in its current batch, with what processing found.');

export const customerQueueSchema = z
  .strictObject({
    '@context': context,
    '@id': id,
    '@type': z.literal('vocab:CustomerQueue'),
    size: count("Members not yet in a terminal state, across the customer's batches."),
    batchesWaiting: count('Batches submitted but not yet started.'),
    imagesWaiting: count('Members not yet picked up by a processor.'),
    batches: link('Every batch, most recent first.'),
    images: link('Images waiting or in progress, in queue order.'),
    active: link('Batches started and not finished.'),
    recent: link('Batches finished and not superseded.'),
    priority: link('POST a collection here for the priority queue.'),
  })
  .describe("vocab:CustomerQueue: one customer's queue counters and links.");

export const callerSchema = z
  .strictObject({
    '@context': context,
    '@id': id,
    '@type': z.literal('vocab:Caller'),
    key: z.string().describe('The key making the request.'),
    admin: z.boolean().describe('True for an admin key (every customer, every route).'),
    customer: count('The customer a customer key acts for (absent for admin keys).').optional(),
    privileges: z.array(z.enum(PRIVILEGES)).describe('What the key may do.'),
    keyResource: link("The key's own resource (customer keys; an admin may read it).").optional(),
    queue: link("The customer's queue (customer keys).").optional(),
  })
  .describe('vocab:Caller: the key making the request, so a client holding only a key can find its customer.');

export const queueSchema = z
  .strictObject({
    '@context': context,
    '@id': id,
    '@type': z.literal('vocab:Queue'),
    incoming: count('Messages on the main queue.'),
    success: z.literal(0).describe('Always 0 (as DLCS).'),
    failed: z.literal(0).describe('Always 0 (as DLCS).'),
    priority: count('Messages on the priority queue.'),
  })
  .describe('vocab:Queue: the service-wide queue depths.');

const viewSchema = z
  .strictObject({
    '@id': link('This page.'),
    '@type': z.literal('PartialCollectionView'),
    first: link('The first page.'),
    previous: link('The previous page (numbered paging).').optional(),
    next: link('The next page; absent on the last one.').optional(),
    last: link('The last page (numbered paging).').optional(),
  })
  .describe('hydra PartialCollectionView: links to the neighbouring pages.');

/** A hydra Collection page of `member`. */
const collectionOf = <T extends z.ZodType>(member: T, what: string) =>
  z
    .strictObject({
      '@context': context,
      '@id': link('This page.'),
      '@type': z.literal('Collection'),
      totalItems: count('Every matching item, where a counter knows it.').optional(),
      pageSize: count('The page size asked for; a page may hold fewer items (it also ends at 5 MiB).'),
      member: z.array(member),
      view: viewSchema,
    })
    .describe(`hydra Collection page of ${what}.`);

export const batchCollectionSchema = collectionOf(batchSchema, 'vocab:Batch');
export const imageCollectionSchema = collectionOf(imageSchema, 'vocab:Image');

export const keySchema = z
  .strictObject({
    '@context': context.optional().describe('Present on a single key; absent on collection members.'),
    '@id': id,
    '@type': z.literal('vocab:Key'),
    key: z.string().describe('The key (the user name of HTTP Basic).'),
    secret: z.string().describe('Only in the answer to the POST that created the key; stored hashed.').optional(),
    customer: count('The customer the key acts for.'),
    privileges: z.array(z.enum(PRIVILEGES)).describe('What the key may do.'),
    created: time('When the key was created'),
  })
  .describe("vocab:Key: a customer's API key.");

export const keyCollectionSchema = collectionOf(keySchema, 'vocab:Key (every key of the customer, on one page)');

export const testResultSchema = z
  .strictObject({ success: z.boolean().describe('True when the check changed the batch (superseded or finished).') })
  .describe('The answer of POST …/test.');

const memberProblemSchema = z.strictObject({
  member: count('Index of the offending member in the submitted member array.'),
  field: z.string().describe('The offending field ("" for the member itself).'),
  message: z.string(),
});

export const errorSchema = z
  .strictObject({
    '@context': context,
    '@type': z.literal('Error'),
    statusCode: z.int().min(400).max(599),
    title: z.string().describe('The status text.'),
    detail: z.string().describe('What went wrong, for a person.'),
    errors: z.array(memberProblemSchema).describe('Every problem of every member (422 on submit).').optional(),
  })
  .describe('Every error the API answers, its own and API Gateway’s.');

const pageLink = z.url().nullable().describe('Another page of the same query, or null.');

export const loadPageSchema = z
  .strictObject({
    count: count('Sample times in the range at which the selected customers had any load.'),
    next: pageLink,
    previous: pageLink,
    results: z.array(
      z.strictObject({
        time: time('The sample time'),
        pending_count: count('Members of batches whose messages are not all sent yet.'),
        queued_count: count('Members on a queue, not yet picked up.'),
        running_count: count('Members being processed.'),
      }),
    ),
  })
  .describe('GET /queue/load: load over time; a time that is absent means zero.');

export const statusPageSchema = z
  .strictObject({
    count: count('Entries (customer and queue pairs with unfinished members).'),
    next: pageLink,
    previous: pageLink,
    results: z.array(
      z.strictObject({
        customer: count('The customer.'),
        queue: z.enum(['main', 'priority']),
        count: count('Members waiting or running.'),
        longest_queued: time('Submission of the oldest unfinished batch on this queue').nullable(),
        highest_priority: z.int().min(1).max(2).describe('2 for the priority queue, 1 for the main queue.'),
      }),
    ),
  })
  .describe('GET /queue/status: the queue now by customer and queue, largest first.');

// The resources as TypeScript types, for the clients (cli/, console/): they import them with
// `import type`, which the compilers erase, so none of the service's code is bundled with them.
export type BatchResource = z.infer<typeof batchSchema>;
export type BatchCollection = z.infer<typeof batchCollectionSchema>;
export type ImageResource = z.infer<typeof imageSchema>;
export type ImageCollection = z.infer<typeof imageCollectionSchema>;
export type CustomerQueueResource = z.infer<typeof customerQueueSchema>;
export type CallerResource = z.infer<typeof callerSchema>;
export type QueueResource = z.infer<typeof queueSchema>;
export type KeyResource = z.infer<typeof keySchema>;
export type TestResult = z.infer<typeof testResultSchema>;
export type ErrorResource = z.infer<typeof errorSchema>;
export type LoadPage = z.infer<typeof loadPageSchema>;
