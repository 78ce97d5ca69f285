/**
 * Records which AWS actions each Lambda function calls, on which resource, while the local runtime
 * runs the handlers: a middleware on the shared SDK clients (lambdas/adapters/aws-clients.ts)
 * attributes each call to the invocation running it (local/handlers.ts keeps the function name in
 * an AsyncLocalStorage). The least-privilege suite compares the record with FUNCTION_GRANTS.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { addClientMiddleware } from '../../lambdas/adapters/aws-clients';
import type { FunctionName } from '../../lambdas/config/functions';
import type { DynamoAction } from '../../lambdas/config/grants';
import { currentFunctionName } from '../../local/handlers';

/** One call as IAM would authorise it: `dynamodb:PutItem table`, `dynamodb:Query table/index/gsi1`, `sqs:SendMessage <url>`. */
export interface AwsCall {
  service: 'dynamodb' | 'sqs' | 'sns';
  action: string;
  /** Table name (with `/index/<name>` for index queries) or queue URL. */
  resource: string;
}

type Input = Record<string, unknown>;

const TRANSACT_ITEM_ACTIONS: Record<string, DynamoAction> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/** The IAM actions and resources one DynamoDB command needs. */
export function dynamoCalls(command: string, input: Input): AwsCall[] {
  const call = (action: string, resource: string): AwsCall => ({ service: 'dynamodb', action, resource });
  switch (command) {
    case 'TransactWriteItems':
      return ((input.TransactItems as Input[] | undefined) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, body]) => call(TRANSACT_ITEM_ACTIONS[kind] ?? kind, String((body as Input).TableName))),
      );
    case 'TransactGetItems':
      return ((input.TransactItems as Input[] | undefined) ?? []).map((item) => call('GetItem', String((item.Get as Input).TableName)));
    case 'BatchWriteItem':
    case 'BatchGetItem':
      return Object.keys((input.RequestItems as Input | undefined) ?? {}).map((table) => call(command, table));
    case 'Query':
    case 'Scan': {
      const index = input.IndexName;
      return [call(command, `${String(input.TableName)}${index ? `/index/${String(index)}` : ''}`)];
    }
    default:
      return [call(command, String(input.TableName))];
  }
}

export class AwsCallRecorder {
  /** Calls by function name (without the runtime's prefix); `(none)` for calls outside an invocation. */
  readonly calls = new Map<string, Map<string, AwsCall>>();
  private uninstall: (() => void) | undefined;

  constructor(private readonly functionNames: readonly FunctionName[]) {}

  /** Adds the middleware to every client created from now on (install before the runtime starts). */
  install(): void {
    this.uninstall = addClientMiddleware((client, service) => {
      (client.middlewareStack as DynamoDBClient['middlewareStack']).add(
        (next, context) => async (args) => {
          const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
          const input = args.input as Input;
          const found: AwsCall[] =
            service === 'dynamodb'
              ? dynamoCalls(command, input)
              : service === 'sns'
                ? [{ service: 'sns', action: command, resource: String(input.TopicArn) }]
                : [{ service: 'sqs', action: command.replace(/Batch$/, ''), resource: String(input.QueueUrl) }];
          this.record(found);
          return next(args);
        },
        { step: 'initialize', name: 'awsCallRecorder', override: true },
      );
    });
  }

  dispose(): void {
    this.uninstall?.();
  }

  private record(found: AwsCall[]): void {
    const running = currentFunctionName();
    const fn = running ? (this.functionNames.find((name) => running.endsWith(`-${name}`)) ?? running) : '(none)';
    const byFunction = this.calls.get(fn) ?? new Map<string, AwsCall>();
    this.calls.set(fn, byFunction);
    for (const call of found) byFunction.set(`${call.service}:${call.action} ${call.resource}`, call);
  }
}
