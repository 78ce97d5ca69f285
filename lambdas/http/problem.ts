/**
 * The service's error body, used by handlers, the local runtime and API Gateway's own responses
 * (404 for unknown paths, 405, 401/403 from the authorizer) so every error looks the same.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { MemberProblem } from '../domain/errors';

export const CONTEXT_URL = 'https://dlcs.github.io/vocab/context/future.json';

export type { MemberProblem };

/**
 * The challenge of every 401: HTTP Basic (a key id and its secret) or a Bearer token of the same
 * pair. Used by the handlers, API Gateway's own 401 (lib/) and the local runtime.
 */
export const WWW_AUTHENTICATE = 'Basic realm="image-queue", Bearer';

export interface ErrorBody {
  '@context': string;
  '@type': 'Error';
  statusCode: number;
  title: string;
  detail: string;
  errors?: MemberProblem[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function titleFor(statusCode: number): string {
  return TITLES[statusCode] ?? 'Error';
}

export function errorBody(statusCode: number, detail: string, errors?: MemberProblem[]): ErrorBody {
  return {
    '@context': CONTEXT_URL,
    '@type': 'Error',
    statusCode,
    title: titleFor(statusCode),
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

/**
 * A client-facing failure of the HTTP layer itself (a malformed query, missing credentials, a wrong
 * Content-Type…), thrown by http/ and the handlers and rendered by `renderError` in api.ts. The
 * domain throws its own errors (domain/errors.ts), which domain-errors.ts turns into these.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    detail: string,
    readonly options: { errors?: MemberProblem[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

export function errorResponse(
  statusCode: number,
  detail: string,
  options: { errors?: MemberProblem[]; headers?: Record<string, string> } = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...options.headers },
    body: JSON.stringify(errorBody(statusCode, detail, options.errors)),
  };
}
