/** One Powertools logger for every handler (JSON lines; level from POWERTOOLS_LOG_LEVEL). */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'image-queue' });
