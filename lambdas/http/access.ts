/**
 * Defence in depth behind the authorizer: a customer key acts only on its own customer. The
 * authorizer's policy already enforces this on API Gateway and in the local runtime.
 */
import type { ApiRequest, Principal } from './api';
import { intParam } from './api';
import { HttpError } from './problem';

/** Who is calling; 401 when the request carries no authorizer context (never on API Gateway). */
export function requirePrincipal(request: ApiRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'Credentials are required.', { headers: { 'WWW-Authenticate': 'Basic realm="image-queue", Bearer' } });
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
