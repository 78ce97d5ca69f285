/**
 * How `npm start` reads its environment (a pure function, so tests and scripts that call
 * startLocalRuntime directly are never affected by the developer's shell):
 * - `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL` (the SDK's own
 *   precedence), per service: use that service instead of starting its emulator;
 * - `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the dummy local ones;
 * - `AWS_REGION`, else `AWS_DEFAULT_REGION`, else us-east-1;
 * - `LOCAL_PREFIX`: the table name and queue name prefix (default image-queue).
 */
import { SERVICE_ENDPOINT_ENV } from '../lambdas/adapters/aws-clients';
import { ENV } from '../lambdas/config/resources';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalCredentials } from './provision';

/** Overrides the table name and the queue name prefix of the local runtime (`npm start`). */
export const LOCAL_PREFIX_ENV = 'LOCAL_PREFIX';
export const DEFAULT_LOCAL_PREFIX = 'image-queue';

export interface LocalServiceOptions {
  /** An existing DynamoDB to use instead of starting DynamoDB Local. */
  dynamoEndpoint?: string;
  /** An existing SQS to use instead of starting the SQS emulator. */
  sqsEndpoint?: string;
  region: string;
  credentials: LocalCredentials;
  prefix: string;
}

type Env = Record<string, string | undefined>;

function endpoint(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name}=${value} is not a URL (e.g. http://localhost:4566)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${name}=${value} must be an http:// or https:// URL`);
  }
  return value;
}

/**
 * Queue names allow [A-Za-z0-9_-] up to 80 characters and the longest suffix is `-Priority-dlq`;
 * table names also allow dots, which queue names do not.
 */
const PREFIX_PATTERN = /^[A-Za-z0-9_-]{3,60}$/;

/** The runtime options that `npm start` derives from its environment (see the module comment). */
export function externalEndpointsFromEnv(env: Env): LocalServiceOptions {
  const generic = endpoint(env, ENV.endpointUrl);
  const dynamoEndpoint = endpoint(env, SERVICE_ENDPOINT_ENV.dynamodb) ?? generic;
  const sqsEndpoint = endpoint(env, SERVICE_ENDPOINT_ENV.sqs) ?? generic;

  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const credentials: LocalCredentials =
    accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : { ...LOCAL_CREDENTIALS };

  const prefix = env[LOCAL_PREFIX_ENV]?.trim() || DEFAULT_LOCAL_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new Error(`${LOCAL_PREFIX_ENV}=${prefix} must be 3–60 characters of A-Z, a-z, 0-9, _ and -`);
  }

  return {
    ...(dynamoEndpoint ? { dynamoEndpoint } : {}),
    ...(sqsEndpoint ? { sqsEndpoint } : {}),
    region: env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || LOCAL_REGION,
    credentials,
    prefix,
  };
}
