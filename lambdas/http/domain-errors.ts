/**
 * How the domain's errors (lambdas/domain/errors.ts) are answered: one table of status codes and
 * headers, used by the error handling of every API handler (`renderError` in api.ts).
 */
import { DomainError, type DomainErrorKind, ValidationFailedError } from '../domain/errors';
import { HttpError } from './problem';

export const DOMAIN_ERROR_RESPONSES: Record<DomainErrorKind, { status: number; headers?: Record<string, string> }> = {
  // Admission is transient: the queue drains as images are processed.
  queueFull: { status: 503, headers: { 'Retry-After': '60' } },
  validationFailed: { status: 422 },
  idempotencyMismatch: { status: 422 },
  batchBeingCreated: { status: 409 },
  badPageToken: { status: 400 },
  notFound: { status: 404 },
  conflict: { status: 409 },
  forbidden: { status: 403 },
  invalidParameter: { status: 400 },
};

/**
 * The client-facing form of an error: an HttpError as it is, a domain error through the table,
 * undefined for anything else (a failure of the service, answered 500 and logged).
 */
export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (!(error instanceof DomainError)) return undefined;
  const { status, headers } = DOMAIN_ERROR_RESPONSES[error.kind];
  const errors = error instanceof ValidationFailedError && error.problems.length > 0 ? [...error.problems] : undefined;
  return new HttpError(status, error.message, { ...(errors ? { errors } : {}), ...(headers ? { headers: { ...headers } } : {}) });
}
