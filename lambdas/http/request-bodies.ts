/**
 * The request bodies, read at the edge. Every route that takes one (a `body` in ROUTES) takes
 * JSON: `apiHandler` refuses any other Content-Type with 415 before the route runs, alike on every
 * such route. Every function loads this file (through api.ts), so it holds no schema: the submit's
 * is in submit-body.ts, a new key's in key-body.ts, each loaded only by the function reading it.
 */
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
