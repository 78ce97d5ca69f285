/**
 * The API's JSON-LD resources the console reads: the service's own response schemas
 * (lambdas/http/resource-schemas.ts), imported as types only so none of the service is bundled.
 */
import type {
  BatchCollection,
  BatchResource,
  CallerResource,
  CustomerQueueResource,
  ErrorResource,
  ImageCollection,
  ImageResource,
  LoadPage,
} from '../../lambdas/http/resource-schemas';

export type { TestResult } from '../../lambdas/http/resource-schemas';

export type Batch = BatchResource;
export type Batches = BatchCollection;
export type Image = ImageResource;
export type Images = ImageCollection;
export type ImageState = NonNullable<Image['state']>;
export type Caller = CallerResource;
export type Privilege = Caller['privileges'][number];
export type CustomerQueue = CustomerQueueResource;
export type QueueLoad = LoadPage;
export type LoadSample = QueueLoad['results'][number];
/**
 * A member problem of a 422, read from any error body without checking it (API Gateway's and
 * proxies' errors have none), so every field may be missing.
 */
export type MemberProblem = Partial<NonNullable<ErrorResource['errors']>[number]>;
