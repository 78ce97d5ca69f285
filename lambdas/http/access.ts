/**
 * Defence in depth behind the authorizer: a customer key acts only on its own customer. The
 * authorizer's policy already enforces this on API Gateway and in the local runtime.
 */
import type { Principal } from '../domain/auth';
import type { ApiRequest } from './api';
import { intParam } from './api';
import { HttpError, WWW_AUTHENTICATE } from './problem';

/** Who is calling; 401 when the request carries no authorizer context (never on API Gateway). */
export function requirePrincipal(request: ApiRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'Credentials are required.', { headers: { 'WWW-Authenticate': WWW_AUTHENTICATE } });
  return request.principal;
}

/** The `{customer}` path parameter, after checking the caller may act on it. */
export function authorizedCustomer(request: ApiRequest): number {
  const customer = intParam(request, 'customer');
  const principal = requirePrincipal(request);
  if (!principal.admin && principal.customer !== customer) {
    throw new HttpError(403, `This key may not act on customer ${customer}.`);
  }
  return customer;
}
