/**
 * The request bodies, read at the edge. Every route that takes one (a `body` in ROUTES) takes
 * JSON: `apiHandler` refuses any other Content-Type with 415 before the route runs, alike on every
 * such route. A submit must parse to a collection as `submittedEnvelopeSchema` says (what the
 * members must be is the domain's: domain/validation.ts). A new key's body is read in key-body.ts,
 * apart, because it needs the whole of zod, which the other functions (every one loads this file
 * through api.ts) do without: here, as in the parameter rules, zod/mini is enough.
 */
import * as z from 'zod/mini';
import type { Route } from '../config/routes';
import type { ApiRequest } from './api';
import { HttpError } from './problem';

/** The media types of every request body (and so of the description's `requestBody`). */
export const JSON_MEDIA_TYPES = ['application/json', 'application/ld+json'];

/** 415 unless the request says it carries JSON or JSON-LD. */
export function requireJsonContentType(contentType: string | undefined): void {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_MEDIA_TYPES.includes(mediaType)) {
    throw new HttpError(
      415,
      `Content-Type must be application/json or application/ld+json${contentType ? `, not '${contentType.slice(0, 100)}'` : ''}.`,
    );
  }
}

/**
 * The Content-Type rule of a route taking a body: it holds whenever a body is sent, and on a route
 * whose body is required even when none is (an empty submit without a type is refused as such).
 */
export function requireJsonBody(body: NonNullable<Route['body']>, request: Pick<ApiRequest, 'body' | 'headers'>): void {
  if (body === 'required' || (request.body ?? '') !== '') requireJsonContentType(request.headers['content-type']);
}

/** The body parsed as JSON; 400 when it is not JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'too deeply nested';
    throw new HttpError(400, `The request body is not valid JSON (${reason.slice(0, 200)}).`);
  }
}

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
