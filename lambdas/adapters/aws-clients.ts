/**
 * Shared AWS SDK clients for the Lambda handlers, created lazily on first use (so the local runtime
 * and tests can set the environment first) and reused across invocations.
 *
 * Endpoints: the service-specific variables `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS`
 * win over the generic `AWS_ENDPOINT_URL` (the SDK's own precedence). The local runtime sets the
 * service-specific ones because DynamoDB Local and the SQS emulator listen on different ports.
 * When an endpoint override is in effect and the environment holds no credentials, static dummy
 * credentials are used so that no credential provider chain (profiles, IMDS) is consulted.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { ENV } from '../config/resources';
import { backoffMs, sleep } from '../domain/async';

/** Service-specific endpoint variables honoured before `ENV.endpointUrl` (`AWS_ENDPOINT_URL`). */
export const SERVICE_ENDPOINT_ENV = {
  dynamodb: `${ENV.endpointUrl}_DYNAMODB`,
  sqs: `${ENV.endpointUrl}_SQS`,
  sns: `${ENV.endpointUrl}_SNS`,
} as const;

export type ServiceName = keyof typeof SERVICE_ENDPOINT_ENV;

/**
 * A client this module created: the hook receives the low-level clients (the document client
 * shares the DynamoDB client's middleware stack).
 */
export type AnyAwsClient = DynamoDBClient | SQSClient | SNSClient;
export type ClientHook = (client: AnyAwsClient, service: ServiceName) => void;

const DEFAULT_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

let dynamoClient: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;
let snsClient: SNSClient | undefined;
const hooks: ClientHook[] = [];

export function region(): string {
  return process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || DEFAULT_REGION;
}

/** The endpoint override for a service, or undefined for the real AWS endpoint. */
export function endpointFor(service: ServiceName): string | undefined {
  return process.env[SERVICE_ENDPOINT_ENV[service]] || process.env[ENV.endpointUrl] || undefined;
}

function baseConfig(service: ServiceName) {
  const endpoint = endpointFor(service);
  const hasEnvCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY);
  return {
    region: region(),
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && !hasEnvCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
  };
}

function applyHooks(client: AnyAwsClient, service: ServiceName): void {
  for (const hook of hooks) hook(client, service);
}

/**
 * The SDK's own retries of DynamoDB calls (throttling, 500s): more attempts and a shorter first
 * delay than its defaults (4 attempts; throttles wait up to 1 s, 2 s, 4 s), like the DynamoDB
 * defaults of AWS SDK v2 (10 retries from 50 ms). A throttled key refills within a second, and a
 * processor waiting seconds for one call holds its whole delivery.
 */
export const DYNAMODB_MAX_ATTEMPTS = 8;
const dynamoRetryDelayMs = (attempt: number) => Math.random() * Math.min(2_000, 50 * 2 ** attempt);
/** Retries of a single-item write that met an in-flight transaction (TransactionConflictException). */
const CONFLICT_RETRIES = 8;

export function dynamo(): DynamoDBClient {
  if (!dynamoClient) {
    dynamoClient = new DynamoDBClient({
      ...baseConfig('dynamodb'),
      retryStrategy: new ConfiguredRetryStrategy(DYNAMODB_MAX_ATTEMPTS, dynamoRetryDelayMs),
    });
    // A PutItem/UpdateItem/DeleteItem on an item that a transaction holds fails with
    // TransactionConflictException, which the SDK does not retry; nothing was applied, so retrying
    // with jittered backoff is safe. It wraps the SDK's own retries (the initialize step).
    dynamoClient.middlewareStack.add(
      (next) => async (args) => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await next(args);
          } catch (error) {
            if ((error as Error).name !== 'TransactionConflictException' || attempt >= CONFLICT_RETRIES) throw error;
            await sleep(backoffMs(attempt + 1, 10, 500));
          }
        }
      },
      { step: 'initialize', name: 'retryTransactionConflicts' },
    );
    applyHooks(dynamoClient, 'dynamodb');
  }
  return dynamoClient;
}

export function dynamoDocument(): DynamoDBDocumentClient {
  if (!documentClient) {
    documentClient = DynamoDBDocumentClient.from(dynamo(), {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }
  return documentClient;
}

export function sqs(): SQSClient {
  if (!sqsClient) {
    const config = baseConfig('sqs');
    // Emulator queue URLs may carry hosts that do not resolve (fauxqs: sqs.<region>.localhost):
    // always send to the configured endpoint rather than the queue URL's host.
    sqsClient = new SQSClient({ ...config, ...(config.endpoint ? { useQueueUrlAsEndpoint: false } : {}) });
    applyHooks(sqsClient, 'sqs');
  }
  return sqsClient;
}

export function sns(): SNSClient {
  if (!snsClient) {
    snsClient = new SNSClient(baseConfig('sns'));
    applyHooks(snsClient, 'sns');
  }
  return snsClient;
}

/**
 * Registers a hook called with every client created from now on and with those already created
 * (e.g. to add a middleware that counts calls). Returns a function that unregisters it for clients
 * created later; call `resetClients()` to drop clients that already carry the middleware.
 */
export function addClientMiddleware(hook: ClientHook): () => void {
  hooks.push(hook);
  if (dynamoClient) hook(dynamoClient, 'dynamodb');
  if (sqsClient) hook(sqsClient, 'sqs');
  if (snsClient) hook(snsClient, 'sns');
  return () => {
    const i = hooks.indexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** Destroys the shared clients so the next call builds new ones from the current environment. */
export function resetClients(): void {
  dynamoClient?.destroy();
  sqsClient?.destroy();
  snsClient?.destroy();
  dynamoClient = undefined;
  snsClient = undefined;
  documentClient = undefined;
  sqsClient = undefined;
}
