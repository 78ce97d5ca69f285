/**
 * The API's resources as the CLI reads them: the service's own response schemas
 * (lambdas/http/resource-schemas.ts), imported as types only: compiling erases them, so the CLI loads no service module for them.
 */
export type {
  BatchResource as Batch,
  CallerResource as Caller,
  CustomerQueueResource as CustomerQueue,
  ImageResource as Image,
  KeyResource as Key,
  LoadPage,
  QueueResource as GlobalQueue,
} from '../../lambdas/http/resource-schemas';
