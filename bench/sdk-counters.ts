/**
 * Counts AWS SDK calls with a middleware: per tag (which Lambda handler made the call), service and
 * command name — calls, HTTP attempts, errors, and the DynamoDB capacity units consumed.
 *
 * - Every DynamoDB command that accepts it gets `ReturnConsumedCapacity: 'TOTAL'` (unless the caller
 *   set it), and `ConsumedCapacity` (an object, or an array for batch and transaction operations)
 *   is summed from the output: `WriteCapacityUnits` / `ReadCapacityUnits` when given, else
 *   `CapacityUnits` attributed by the command's kind (read or write).
 * - Except for TransactWriteItems: DynamoDB Local reports a flat 4 units per table or index a
 *   transaction touches, whatever the number of items (1 item or 50: 4). Its units are computed
 *   from the request with AWS's rule instead (`transactWriteUnits`); the emulator's figure is kept
 *   as `emulatorWriteUnits`.
 * - The tag comes from an `AsyncLocalStorage` entered by the wrapped handlers (see harness.ts), so
 *   the pollers and the API handlers — all in this one process — are told apart exactly.
 * - The middleware sits at the `initialize` step: one count per `send()`; SDK retries show up as
 *   `attempts` (from `$metadata.attempts`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AnyAwsClient, addClientMiddleware, type ServiceName } from '../lambdas/adapters/aws-clients';
import { TABLE } from '../lambdas/config/resources';

export type Service = ServiceName;

/** Low-level DynamoDB command names (the document client's commands resolve to these). */
const DYNAMO_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface CommandCount {
  calls: number;
  /** HTTP attempts (calls + SDK retries). */
  attempts: number;
  /** Calls that ended in an error (conditional check failures and cancelled transactions included). */
  errors: number;
  readUnits: number;
  writeUnits: number;
  /** Write units as the emulator reported them (differs from writeUnits for transactions only). */
  emulatorWriteUnits: number;
  /** Summed latency of the calls (ms), from send() to its result, SDK retries included. */
  ms: number;
}

/** tag → service → command → count */
export type CountSnapshot = Record<string, Partial<Record<Service, Record<string, CommandCount>>>>;

export interface Totals {
  calls: number;
  attempts: number;
  errors: number;
  readUnits: number;
  writeUnits: number;
  emulatorWriteUnits: number;
  ms: number;
  byCommand: Record<string, number>;
}

export const UNTAGGED = '(untagged)';

const tagStorage = new AsyncLocalStorage<string>();

/** Runs `fn` with every SDK call it makes (however deep) attributed to `tag`. */
export function withTag<T>(tag: string, fn: () => T): T {
  return tagStorage.run(tag, fn);
}

export function currentTag(): string {
  return tagStorage.getStore() ?? UNTAGGED;
}

const emptyCount = (): CommandCount => ({ calls: 0, attempts: 0, errors: 0, readUnits: 0, writeUnits: 0, emulatorWriteUnits: 0, ms: 0 });

interface CapacityEntry {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** Sums a `ConsumedCapacity` value (object or array) into read and write units for a command. */
export function capacityOf(command: string, consumed: unknown): { read: number; write: number } {
  const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as CapacityEntry[];
  let read = 0;
  let write = 0;
  for (const e of entries) {
    if (e.ReadCapacityUnits !== undefined || e.WriteCapacityUnits !== undefined) {
      read += e.ReadCapacityUnits ?? 0;
      write += e.WriteCapacityUnits ?? 0;
    } else if (DYNAMO_WRITES.has(command)) {
      write += e.CapacityUnits ?? 0;
    } else {
      read += e.CapacityUnits ?? 0;
    }
  }
  return { read, write };
}

type Action = Record<string, unknown>;

/** Attribute names an Update expression mentions (`#name` resolved), or a Put item's names. */
function attributesWritten(kind: string, action: Action): Set<string> {
  if (kind === 'Put') return new Set(Object.keys((action.Item as Record<string, unknown>) ?? {}));
  if (kind !== 'Update') return new Set();
  const names = (action.ExpressionAttributeNames as Record<string, string>) ?? {};
  const expression = String(action.UpdateExpression ?? '');
  const out = new Set<string>();
  for (const token of expression.match(/[#:]?[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    if (token.startsWith(':')) continue;
    out.add(token.startsWith('#') ? (names[token] ?? token) : token);
  }
  return out;
}

/** An item's size in KB as write units count it (its JSON size as an estimate; at least 1). */
export function itemKb(item: unknown): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(item ?? {})) / 1024));
}

/**
 * AWS's price of a TransactWriteItems request, from the request: every action is a transactional
 * write, 2 units per KB of item (Put: the item's JSON size as an estimate; Update, Delete and
 * ConditionCheck: items assumed ≤ 1 KB), plus 2 units per index entry written (an index whose
 * partition or sort key attribute the Put item holds or the Update expression sets or removes).
 */
export function transactWriteUnits(input: unknown): number {
  const items = ((input as { TransactItems?: Action[] })?.TransactItems ?? []) as Action[];
  let units = 0;
  for (const wrapper of items) {
    for (const [kind, action] of Object.entries(wrapper)) {
      if (!action || typeof action !== 'object') continue;
      const body = action as Action;
      const kb = kind === 'Put' ? itemKb(body.Item) : 1;
      const written = attributesWritten(kind, body);
      const indexes = Object.values(TABLE.indexes).filter((ix) => written.has(ix.partitionKey) || written.has(ix.sortKey)).length;
      units += 2 * (kb + indexes);
    }
  }
  return units;
}

/** `GetItemCommand` → `GetItem`. */
export function commandNameOf(raw: string | undefined): string {
  return (raw ?? 'Unknown').replace(/Command$/, '');
}

export class SdkCounters {
  private counts: CountSnapshot = {};
  private uninstall: (() => void) | undefined;

  /** Adds the middleware to every client `lambdas/adapters/aws-clients.ts` creates. */
  install(): void {
    if (this.uninstall) return;
    this.uninstall = addClientMiddleware((client, service) => this.attach(client, service));
  }

  /** Stops adding the middleware to new clients (clients already built keep it until reset). */
  dispose(): void {
    this.uninstall?.();
    this.uninstall = undefined;
  }

  /** Adds the counting middleware to one client (also used for clients the bench builds itself). */
  attach(client: AnyAwsClient, service: Service, tag?: string): void {
    const stack = client.middlewareStack as DynamoDBClient['middlewareStack'];
    stack.add(
      (next, context) => async (args) => {
        const command = commandNameOf(context.commandName);
        const input = args.input as Record<string, unknown>;
        const inject =
          service === 'dynamodb' && (DYNAMO_READS.has(command) || DYNAMO_WRITES.has(command)) && input.ReturnConsumedCapacity === undefined;
        const count = this.entry(tag ?? currentTag(), service, command);
        count.calls += 1;
        const started = performance.now();
        try {
          const result = await next(inject ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args);
          const output = result.output as { ConsumedCapacity?: unknown; $metadata?: { attempts?: number } };
          count.attempts += output.$metadata?.attempts ?? 1;
          const { read, write } = capacityOf(command, output.ConsumedCapacity);
          count.readUnits += read;
          count.emulatorWriteUnits += write;
          count.writeUnits += service === 'dynamodb' && command === 'TransactWriteItems' ? transactWriteUnits(input) : write;
          return result;
        } catch (error) {
          count.errors += 1;
          count.attempts += (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
          throw error;
        } finally {
          count.ms += performance.now() - started;
        }
      },
      { step: 'initialize', name: 'benchSdkCounter', override: true },
    );
  }

  private entry(tag: string, service: Service, command: string): CommandCount {
    this.counts[tag] ??= {};
    const byService = this.counts[tag];
    byService[service] ??= {};
    const byCommand = byService[service];
    byCommand[command] ??= emptyCount();
    return byCommand[command];
  }

  reset(): void {
    this.counts = {};
  }

  snapshot(): CountSnapshot {
    return structuredClone(this.counts);
  }

  /** Totals over some tags (all when omitted) and one service. */
  totals(service: Service, tags?: readonly string[]): Totals {
    return totalsOf(this.counts, service, tags);
  }
}

export function totalsOf(counts: CountSnapshot, service: Service, tags?: readonly string[]): Totals {
  const out: Totals = { calls: 0, attempts: 0, errors: 0, readUnits: 0, writeUnits: 0, emulatorWriteUnits: 0, ms: 0, byCommand: {} };
  for (const [tag, byService] of Object.entries(counts)) {
    if (tags && !tags.includes(tag)) continue;
    for (const [command, c] of Object.entries(byService[service] ?? {})) {
      out.calls += c.calls;
      out.attempts += c.attempts;
      out.errors += c.errors;
      out.readUnits += c.readUnits;
      out.writeUnits += c.writeUnits;
      out.emulatorWriteUnits += c.emulatorWriteUnits;
      out.ms += c.ms;
      out.byCommand[command] = (out.byCommand[command] ?? 0) + c.calls;
    }
  }
  return out;
}
