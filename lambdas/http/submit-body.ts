/**
 * The body of a submit, read at the edge: its Content-Type must say JSON, and it must parse to an
 * object with a `member` array. What the members must be is the domain's (domain/validation.ts).
 */
import { HttpError } from './problem';

const JSON_TYPES = ['application/json', 'application/ld+json'];

/** 415 unless the request says it carries JSON or JSON-LD. */
export function requireJsonContentType(contentType: string | undefined): void {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_TYPES.includes(mediaType)) {
    throw new HttpError(
      415,
      `Content-Type must be application/json or application/ld+json${contentType ? `, not '${contentType.slice(0, 100)}'` : ''}.`,
    );
  }
}

/** Parses the body as JSON: 400 when it is not JSON, or not an object with a `member` array. */
export function parseCollection(body: string | undefined): unknown[] {
  if (body === undefined || body.trim() === '')
    throw new HttpError(400, 'The request body is empty: send a hydra Collection with a member array.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'too deeply nested';
    throw new HttpError(400, `The request body is not valid JSON (${reason.slice(0, 200)}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'The request body must be a JSON object (a hydra Collection) with a member array.');
  }
  const member = (parsed as Record<string, unknown>).member;
  if (!Array.isArray(member)) {
    throw new HttpError(400, 'The request body must have a "member" array of images.');
  }
  return member;
}
