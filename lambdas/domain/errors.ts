/**
 * What the queue's rules refuse, as errors in the domain's own words. Each message is written for
 * the client (it becomes the `detail` of the error body); how each kind is answered is decided at
 * the edge, in one table: lambdas/http/domain-errors.ts. Nothing here knows about HTTP.
 */

/** One problem with one submitted member (validation reports them all at once). */
export interface MemberProblem {
  /** Index of the offending member in the submitted `member` array. */
  member: number;
  field: string;
  message: string;
}

/**
 * Every kind of domain error. The edge's table is a `Record` over this union, so a new kind does not
 * compile until it is given a status.
 */
export type DomainErrorKind =
  | 'queueFull'
  | 'validationFailed'
  | 'idempotencyMismatch'
  | 'batchBeingCreated'
  | 'badPageToken'
  | 'notFound'
  | 'conflict'
  | 'forbidden'
  | 'invalidParameter';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Admission refused a submit: the customer's queue would pass its size limit. Nothing was queued. */
export class QueueFullError extends DomainError {
  readonly kind = 'queueFull';

  constructor(
    readonly customer: number,
    /** Members not yet terminal in the customer's queue. */
    readonly size: number,
    readonly limit: number,
    /** Members the refused submit would have added. */
    readonly requested: number,
  ) {
    super(
      `Customer ${customer}'s queue holds ${size} images; accepting ${requested} more would exceed its limit of ${limit}. ` +
        'Nothing was queued; retry later.',
    );
  }
}

/** The submitted collection breaks the rules; `problems` lists every offending member (may be empty). */
export class ValidationFailedError extends DomainError {
  readonly kind = 'validationFailed';

  constructor(
    message: string,
    readonly problems: readonly MemberProblem[] = [],
  ) {
    super(message);
  }
}

/** An Idempotency-Key already used for a different request body. */
export class IdempotencyMismatchError extends DomainError {
  readonly kind = 'idempotencyMismatch';

  constructor(
    readonly idempotencyKey: string | undefined,
    /** The batch the key was first used for. */
    readonly batch: number,
  ) {
    super(`Idempotency-Key '${idempotencyKey}' was already used for a different request body (batch ${batch}).`);
  }
}

/** A replayed Idempotency-Key whose batch another request is still creating: the client retries. */
export class BatchBeingCreatedError extends DomainError {
  readonly kind = 'batchBeingCreated';

  constructor(readonly idempotencyKey: string | undefined) {
    super(`The batch for Idempotency-Key '${idempotencyKey}' is still being created; retry.`);
  }
}

/** A paging token this service did not issue for this collection (forged, truncated or from another list). */
export class BadPageTokenError extends DomainError {
  readonly kind = 'badPageToken';

  constructor() {
    super("The 'page' token is not one this API issued for this collection.");
  }
}

/** Something asked for does not exist. */
export class NotFoundError extends DomainError {
  readonly kind = 'notFound';
}

export class BatchNotFoundError extends NotFoundError {
  constructor(
    readonly customer: number,
    readonly batch: number,
  ) {
    super(`Customer ${customer} has no batch ${batch}.`);
  }
}

export class KeyNotFoundError extends NotFoundError {
  constructor(
    readonly customer: number,
    readonly key: string,
  ) {
    super(`Customer ${customer} has no API key '${key.slice(0, 200)}'.`);
  }
}

/** The request contradicts the current state (cancelling a finished batch, retrying one without errors). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

/** The caller may not do or see this (e.g. another customer's load). */
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

/** A request parameter breaks a rule of the domain (e.g. a time range longer than allowed). */
export class InvalidParameterError extends DomainError {
  readonly kind = 'invalidParameter';
}
