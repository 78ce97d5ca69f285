/**
 * Cost model: AWS list price of registering one million images, from the requests and units the
 * benchmark counted. Prices are parameters; the defaults are the us-east-1 on-demand list prices in
 * /work/shared/reference/aws-limits.md.
 *
 * Assumptions (each a parameter or an input):
 * - Images arrive in batches of `batchSize` members (default: the largest batch measured), one POST
 *   each; one authorizer invocation per API request (no authorizer caching); no status polling.
 * - DynamoDB on-demand: the write and read request units summed from `ConsumedCapacity` (DynamoDB
 *   Local's accounting: item size, index writes, 2× for transactions). Conditional writes that fail
 *   also cost units on AWS; DynamoDB Local does not report them, so they are not counted.
 * - SQS: every request counted is one billed request (all messages are far below 64 KB); the event
 *   source's ReceiveMessage / DeleteMessageBatch are included, its empty long polls are not.
 * - Lambda: requests = invocations; duration = the measured time inside each handler × the
 *   function's memory (FUNCTIONS in lambdas/config/functions.ts: API functions 1024 MB, authorizer
 *   512 MB, processors 512 MB, tasks 256 MB), priced at the x86 GB-second rate given.
 *   Measured locally, where every invocation shares one Node.js event loop, so durations overstate
 *   what a Lambda (its own vCPU share per invocation) would take.
 * - API Gateway REST: one request per batch.
 * Not included: CloudWatch Logs and metrics, data transfer, fetching the origins, storage.
 */
import { FUNCTIONS } from '../lambdas/config/functions';

export interface Prices {
  /** USD per million DynamoDB write request units. */
  dynamoWritePerMillion: number;
  /** USD per million DynamoDB read request units. */
  dynamoReadPerMillion: number;
  /** USD per million SQS requests (64 KB chunks). */
  sqsPerMillion: number;
  /** USD per GB-second of Lambda duration. */
  lambdaGbSecond: number;
  /** USD per million Lambda requests. */
  lambdaPerMillionRequests: number;
  /** USD per million API Gateway REST requests. */
  apiGatewayPerMillion: number;
}

export const DEFAULT_PRICES: Prices = {
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  sqsPerMillion: 0.4,
  lambdaGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  apiGatewayPerMillion: 3.5,
};

export interface MemorySizes {
  submitMiB: number;
  authorizerMiB: number;
  processorMiB: number;
  tasksMiB: number;
}

export const DEFAULT_MEMORY: MemorySizes = {
  submitMiB: FUNCTIONS['api-submit'].memoryMiB,
  authorizerMiB: FUNCTIONS.authorizer.memoryMiB,
  processorMiB: FUNCTIONS['process-images'].memoryMiB,
  tasksMiB: FUNCTIONS['run-tasks'].memoryMiB,
};

/** What the benchmark measured, per member (image) unless said otherwise. */
export interface CostInputs {
  /** Members per POST. */
  batchSize: number;
  submit: {
    writeUnits: number;
    readUnits: number;
    sqsRequests: number;
    /** Submit handler time per member (ms). */
    handlerMs: number;
    /** Authorizer time per API request (ms). */
    authorizerMsPerRequest: number;
  };
  processing: {
    writeUnits: number;
    readUnits: number;
    sqsRequests: number;
    /** Processor invocations per member. */
    processorInvocations: number;
    tasksInvocations: number;
    processorMs: number;
    tasksMs: number;
  };
}

export interface CostLine {
  item: string;
  quantityPerMillion: number;
  unit: string;
  usd: number;
}

export interface CostModel {
  prices: Prices;
  memory: MemorySizes;
  inputs: CostInputs;
  lines: CostLine[];
  byService: Record<'dynamodb' | 'sqs' | 'lambda' | 'apiGateway', number>;
  /** USD per million images. */
  totalPerMillion: number;
}

const MILLION = 1_000_000;

export function costPerMillion(inputs: CostInputs, prices: Prices = DEFAULT_PRICES, memory: MemorySizes = DEFAULT_MEMORY): CostModel {
  const { submit, processing } = inputs;
  const requestsPerMember = 1 / inputs.batchSize;
  const gbSeconds = (ms: number, mib: number) => (ms / 1000) * (mib / 1024);
  const line = (item: string, perMember: number, unit: string, pricePerUnit: number): CostLine => ({
    item,
    quantityPerMillion: perMember * MILLION,
    unit,
    usd: perMember * MILLION * pricePerUnit,
  });
  const lines: CostLine[] = [
    line('DynamoDB writes', submit.writeUnits + processing.writeUnits, 'WRU', prices.dynamoWritePerMillion / MILLION),
    line('DynamoDB reads', submit.readUnits + processing.readUnits, 'RRU', prices.dynamoReadPerMillion / MILLION),
    line('SQS requests', submit.sqsRequests + processing.sqsRequests, 'requests', prices.sqsPerMillion / MILLION),
    line(
      'Lambda requests',
      2 * requestsPerMember + processing.processorInvocations + processing.tasksInvocations,
      'invocations',
      prices.lambdaPerMillionRequests / MILLION,
    ),
    line(
      'Lambda duration',
      gbSeconds(submit.handlerMs, memory.submitMiB) +
        gbSeconds(submit.authorizerMsPerRequest * requestsPerMember, memory.authorizerMiB) +
        gbSeconds(processing.processorMs, memory.processorMiB) +
        gbSeconds(processing.tasksMs, memory.tasksMiB),
      'GB-s',
      prices.lambdaGbSecond,
    ),
    line('API Gateway requests', requestsPerMember, 'requests', prices.apiGatewayPerMillion / MILLION),
  ];
  const usd = (name: string) => lines.find((l) => l.item === name)?.usd ?? 0;
  const byService = {
    dynamodb: usd('DynamoDB writes') + usd('DynamoDB reads'),
    sqs: usd('SQS requests'),
    lambda: usd('Lambda requests') + usd('Lambda duration'),
    apiGateway: usd('API Gateway requests'),
  };
  return {
    prices,
    memory,
    inputs,
    lines,
    byService,
    totalPerMillion: Object.values(byService).reduce((a, b) => a + b, 0),
  };
}
