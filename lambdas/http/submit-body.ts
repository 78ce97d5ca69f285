/**
 * The body of a submit, read at the edge: JSON (request-bodies.ts) parsing to a collection as
 * `submittedEnvelopeSchema` says. What the members must be is the domain's (domain/validation.ts).
 */
import * as z from 'zod/mini';
import { HttpError } from './problem';
import { parseJson } from './request-bodies';

/**
 * The collection around the members, as submitted: JSON-LD's optional `@context` (an IRI, a context
 * object, an array of them, or null) and `@type`, and the `member` array. Also the OpenAPI request
 * schema's (openapi.ts, which adds the members' own schema).
 */
export const submittedEnvelopeSchema = z.object({
  '@context': z.optional(
    z
      .union([z.string(), z.looseObject({}), z.array(z.unknown()), z.null()], 'must be an IRI, a context object, an array of them, or null')
      .check(z.describe('The JSON-LD context: an IRI, a context object, an array of them, or null. Not otherwise checked.')),
  ),
  '@type': z.optional(z.string('must be a string').check(z.describe('`Collection` by convention; not otherwise checked.'))),
  member: z.array(z.unknown()),
});

/** Parses a submit's body: 400 when it is not JSON, or not an object with a `member` array and a valid envelope. */
export function parseCollection(body: string | undefined): unknown[] {
  if (body === undefined || body.trim() === '')
    throw new HttpError(400, 'The request body is empty: send a hydra Collection with a member array.');
  const parsed = parseJson(body);
  const envelope = submittedEnvelopeSchema.safeParse(parsed);
  if (envelope.success) return envelope.data.member;
  const [field] = envelope.error.issues[0]?.path ?? [];
  if (field === undefined) throw new HttpError(400, 'The request body must be a JSON object (a hydra Collection) with a member array.');
  if (field === 'member') throw new HttpError(400, 'The request body must have a "member" array of images.');
  throw new HttpError(400, `The request body's "${String(field)}" ${envelope.error.issues[0]?.message}.`);
}
