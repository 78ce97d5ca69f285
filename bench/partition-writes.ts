/**
 * Write units per table partition key, seen from the SDK: a middleware on every DynamoDB client the
 * handlers use (and any client attached by hand) records, for each write action that DynamoDB
 * applied, the partition key value it wrote and the units AWS would charge for it. From that,
 * `ceilingModel` derives the images/s one customer can reach before any partition key passes
 * AWS's 1,000 write units/s (see bench/README.md, "Strict mode").
 *
 * Units (the base table's, AWS's rule):
 * - TransactWriteItems: 2 units per KB per action (Put: the item's JSON size; Update, Delete and
 *   ConditionCheck: assumed ≤ 1 KB), the same rule as `transactWriteUnits` without the index
 *   entries (those land on the index's partition keys, not the table's);
 * - PutItem 1 per KB, UpdateItem and DeleteItem 1; BatchWriteItem 1 per KB per put, 1 per delete,
 *   minus the requests returned in `UnprocessedItems`.
 * Calls that failed apply nothing and count no unit; their cancellations are attributed instead:
 * a `TransactionCanceledException` adds a conflict (or a throttle) to the key of every action whose
 * cancellation reason is `TransactionConflict` (or `ThrottlingError`); a single write's
 * `TransactionConflictException` / `ProvisionedThroughputExceededException` to its key.
 * Not counted: global secondary index writes (their partition keys are per batch, per customer list
 * or per asset, never per image of one key), conditional writes that failed (AWS charges them).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { addClientMiddleware } from '../lambdas/adapters/aws-clients';
import { TABLE } from '../lambdas/config/resources';
import { commandNameOf, itemKb } from './sdk-counters';

/** AWS's ceiling per partition key (write units per second). */
export const WRITE_UNITS_PER_KEY = 1_000;

export interface KeyLoad {
  /** Write units applied on this partition key. */
  units: number;
  /** Write actions applied. */
  writes: number;
  /** Actions on this key cancelled or refused because another transaction held their item. */
  conflicts: number;
  /** Actions on this key refused for the key's throughput (ThrottlingError, ProvisionedThroughputExceeded). */
  throttles: number;
}

/** Partition key value → load. */
export type PartitionSnapshot = Record<string, KeyLoad>;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key attribute's value in either form: the document client's (`'CUST#1'`) or the wire's (`{ S: 'CUST#1' }`). */
export function keyValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (isObject(value)) {
    if (typeof value.S === 'string') return value.S;
    if (typeof value.N === 'string') return value.N;
    if (value.B !== undefined) return `(binary)`;
  }
  return undefined;
}

export interface WriteTarget {
  /** The table's partition key value (undefined when the request does not carry it). */
  pk: string | undefined;
  units: number;
}

const pkOf = (keyOrItem: unknown) => (isObject(keyOrItem) ? keyValue(keyOrItem[TABLE.partitionKey]) : undefined);

/** The write actions of a request, in request order, with their partition key and units. */
export function writeTargets(command: string, input: unknown): WriteTarget[] {
  if (!isObject(input)) return [];
  switch (command) {
    case 'TransactWriteItems': {
      const items = Array.isArray(input.TransactItems) ? input.TransactItems : [];
      return items.map((wrapper) => {
        const [kind, action] = (isObject(wrapper) ? Object.entries(wrapper).find(([, a]) => isObject(a)) : undefined) ?? ['', undefined];
        const body = isObject(action) ? action : {};
        return kind === 'Put' ? { pk: pkOf(body.Item), units: 2 * itemKb(body.Item) } : { pk: pkOf(body.Key), units: 2 };
      });
    }
    case 'PutItem':
      return [{ pk: pkOf(input.Item), units: itemKb(input.Item) }];
    case 'UpdateItem':
    case 'DeleteItem':
      return [{ pk: pkOf(input.Key), units: 1 }];
    case 'BatchWriteItem':
      return batchRequests(input.RequestItems);
    default:
      return [];
  }
}

/** A BatchWriteItem's RequestItems (or UnprocessedItems) as targets. */
function batchRequests(requestItems: unknown): WriteTarget[] {
  if (!isObject(requestItems)) return [];
  const out: WriteTarget[] = [];
  for (const requests of Object.values(requestItems)) {
    for (const r of Array.isArray(requests) ? requests : []) {
      if (!isObject(r)) continue;
      if (isObject(r.PutRequest)) out.push({ pk: pkOf(r.PutRequest.Item), units: itemKb(r.PutRequest.Item) });
      else if (isObject(r.DeleteRequest)) out.push({ pk: pkOf(r.DeleteRequest.Key), units: 1 });
    }
  }
  return out;
}

const WRITE_COMMANDS = new Set(['TransactWriteItems', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const emptyLoad = (): KeyLoad => ({ units: 0, writes: 0, conflicts: 0, throttles: 0 });

export class PartitionWrites {
  private loads = new Map<string, KeyLoad>();
  private uninstall: (() => void) | undefined;

  /** Adds the middleware to every DynamoDB client `lambdas/adapters/aws-clients.ts` creates (and has created). */
  install(): void {
    if (this.uninstall) return;
    this.uninstall = addClientMiddleware((client, service) => {
      if (service === 'dynamodb') this.attach(client as DynamoDBClient);
    });
  }

  dispose(): void {
    this.uninstall?.();
    this.uninstall = undefined;
  }

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = commandNameOf(context.commandName);
        if (!WRITE_COMMANDS.has(command)) return next(args);
        const targets = writeTargets(command, args.input);
        try {
          const result = await next(args);
          const unprocessed =
            command === 'BatchWriteItem' ? batchRequests((result.output as { UnprocessedItems?: unknown }).UnprocessedItems) : [];
          for (const t of targets) this.add(t.pk, { units: t.units, writes: 1 });
          for (const t of unprocessed) this.add(t.pk, { units: -t.units, writes: -1, throttles: 1 });
          return result;
        } catch (error) {
          this.failed(command, targets, error);
          throw error;
        }
      },
      { step: 'initialize', name: 'benchPartitionWrites', override: true },
    );
  }

  private failed(command: string, targets: WriteTarget[], error: unknown): void {
    const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
    if (command === 'TransactWriteItems' && Array.isArray(e.CancellationReasons)) {
      e.CancellationReasons.forEach((reason, i) => {
        const pk = targets[i]?.pk;
        if (reason.Code === 'TransactionConflict') this.add(pk, { conflicts: 1 });
        else if (reason.Code === 'ThrottlingError' || reason.Code === 'ProvisionedThroughputExceeded') this.add(pk, { throttles: 1 });
      });
    } else if (e.name === 'TransactionConflictException') {
      for (const t of targets) this.add(t.pk, { conflicts: 1 });
    } else if (e.name === 'ProvisionedThroughputExceededException') {
      for (const t of targets) this.add(t.pk, { throttles: 1 });
    }
  }

  private add(pk: string | undefined, delta: Partial<KeyLoad>): void {
    const key = pk ?? '(no key)';
    const load = this.loads.get(key) ?? emptyLoad();
    load.units += delta.units ?? 0;
    load.writes += delta.writes ?? 0;
    load.conflicts += delta.conflicts ?? 0;
    load.throttles += delta.throttles ?? 0;
    this.loads.set(key, load);
  }

  reset(): void {
    this.loads.clear();
  }

  snapshot(): PartitionSnapshot {
    return Object.fromEntries([...this.loads].map(([k, v]) => [k, { ...v }]));
  }
}

// ---- the model ---------------------------------------------------------------------------------

/** Placeholders for the numeric segment after these key words. */
const PLACEHOLDERS: Record<string, string> = { CUST: 'c', BATCH: 'b', COUNTERS: 's', IDEM: 'k', KEY: 'k', ASSET: 'a' };

/**
 * A partition key value as a pattern: `CUST#5000#BATCH#000000000003#COUNTERS#2` →
 * `CUST#c#BATCH#b#COUNTERS#s`. A segment after a known word becomes its placeholder (c, b, s, …);
 * any other all-digit segment `n`, and digit runs inside other segments `n` too (`P3` → `Pn`).
 */
export function keyPattern(pk: string): string {
  const segments = pk.split('#');
  return segments
    .map((segment, i) => {
      const placeholder = i > 0 ? PLACEHOLDERS[segments[i - 1] as string] : undefined;
      if (placeholder && segment !== '') return placeholder;
      if (/^\d+$/.test(segment)) return 'n';
      return segment.replace(/\d+/g, 'n');
    })
    .join('#');
}

export type KeyScope = 'batch' | 'customer' | 'other';

export interface PatternLoad {
  pattern: string;
  /** What a key of this pattern serves: one batch, one customer, or anything else. */
  scope: KeyScope;
  /** Distinct keys of the pattern written. */
  keys: number;
  /** Write units per image on the pattern's busiest key (see `ceilingModel`). */
  unitsPerImage: number;
  busiestKey: string;
  /** Units over every key of the pattern. */
  units: number;
  /** The most units one key of the pattern took, per image of its customer in the run (the workload as it was spread over its batches). */
  unitsPerImageOfRun: number;
  conflicts: number;
  throttles: number;
  /** The images/s at which the busiest key reaches WRITE_UNITS_PER_KEY. */
  ceiling: number;
}

export interface Ceiling {
  /** Images/s one customer reaches before its busiest partition key passes 1,000 WCU/s. */
  imagesPerSecond: number;
  /** The pattern whose busiest key binds first. */
  binding: PatternLoad | undefined;
  /** Every pattern, busiest (per image) first. */
  patterns: PatternLoad[];
  /** The same with every key's units divided by all its customer's images (`unitsPerImageOfRun`). */
  asRun: { imagesPerSecond: number; pattern: string | undefined };
  /** Images the model divided by (the workload's members). */
  images: number;
}

export interface WorkloadBatch {
  customer: number;
  batch: number;
  members: number;
}

/**
 * The model: a key's units are divided by the images that key serves — a batch-scoped key
 * (`CUST#c#BATCH#b…`) by the members of its batch, a customer-scoped one (`CUST#c…`) by every
 * image of the customer in the run, any other by every image of the run. That is the load per image
 * when one customer's images flow through one batch at a time (the worst case: a customer may send
 * one 10,000-member batch); `unitsPerImageOfRun` divides by every image of the key's customer
 * instead, i.e. the workload as it was spread over its batches. Ceiling = 1,000 ÷ the largest units per image.
 */
export function ceilingModel(loads: PartitionSnapshot, batches: readonly WorkloadBatch[], limit = WRITE_UNITS_PER_KEY): Ceiling {
  const byBatch = new Map(batches.map((b) => [`${b.customer}/${b.batch}`, b.members]));
  const byCustomer = new Map<string, number>();
  for (const b of batches) byCustomer.set(String(b.customer), (byCustomer.get(String(b.customer)) ?? 0) + b.members);
  const images = batches.reduce((a, b) => a + b.members, 0);

  const patterns = new Map<string, PatternLoad>();
  for (const [pk, load] of Object.entries(loads)) {
    const match = /^CUST#(\d+)(?:#BATCH#(\d+))?/.exec(pk);
    const batchMembers = match?.[2] !== undefined ? byBatch.get(`${match[1]}/${Number(match[2])}`) : undefined;
    const customerMembers = match ? byCustomer.get(String(Number(match[1]))) : undefined;
    const [scope, divisor]: [KeyScope, number] =
      batchMembers !== undefined
        ? ['batch', batchMembers]
        : customerMembers !== undefined
          ? ['customer', customerMembers]
          : ['other', images];
    const perImage = divisor > 0 ? load.units / divisor : 0;
    const pattern = keyPattern(pk);
    const p = patterns.get(pattern) ?? {
      pattern,
      scope,
      keys: 0,
      unitsPerImage: 0,
      busiestKey: pk,
      units: 0,
      unitsPerImageOfRun: 0,
      conflicts: 0,
      throttles: 0,
      ceiling: Infinity,
    };
    p.keys += 1;
    p.units += load.units;
    const runDivisor = customerMembers ?? images;
    p.unitsPerImageOfRun = Math.max(p.unitsPerImageOfRun, runDivisor > 0 ? load.units / runDivisor : 0);
    p.conflicts += load.conflicts;
    p.throttles += load.throttles;
    if (perImage > p.unitsPerImage) {
      p.unitsPerImage = perImage;
      p.busiestKey = pk;
      p.scope = scope;
    }
    patterns.set(pattern, p);
  }
  const sorted = [...patterns.values()]
    .map((p) => ({ ...p, ceiling: p.unitsPerImage > 0 ? limit / p.unitsPerImage : Infinity }))
    .sort((a, b) => b.unitsPerImage - a.unitsPerImage);
  const binding = sorted[0];
  const runBinding = [...sorted].sort((a, b) => b.unitsPerImageOfRun - a.unitsPerImageOfRun)[0];
  return {
    imagesPerSecond: binding && binding.unitsPerImage > 0 ? limit / binding.unitsPerImage : Infinity,
    binding,
    patterns: sorted,
    asRun: {
      imagesPerSecond: runBinding && runBinding.unitsPerImageOfRun > 0 ? limit / runBinding.unitsPerImageOfRun : Infinity,
      pattern: runBinding?.pattern,
    },
    images,
  };
}

/** Adds two snapshots key by key (e.g. the submit and the processing phase). */
export function mergeSnapshots(...snapshots: PartitionSnapshot[]): PartitionSnapshot {
  const out: PartitionSnapshot = {};
  for (const s of snapshots) {
    for (const [k, v] of Object.entries(s)) {
      out[k] ??= emptyLoad();
      const o = out[k];
      o.units += v.units;
      o.writes += v.writes;
      o.conflicts += v.conflicts;
      o.throttles += v.throttles;
    }
  }
  return out;
}
