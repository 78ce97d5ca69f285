/** One Powertools logger for every handler (JSON lines; level from POWERTOOLS_LOG_LEVEL). */
import { Logger } from '@aws-lambda-powertools/logger';
import { withSourceStack } from './source-map';

export const logger = new Logger({
  serviceName: 'image-queue',
  // In a function's bundle `__filename` is its index.js: errors are logged with the TypeScript
  // positions of index.js.map, read on the first error logged (see ./source-map.ts for why).
  jsonReplacerFn: (_key, value) => withSourceStack(value, __filename),
});
