/**
 * An "AWS-faithful" DynamoDB: an HTTP proxy in front of DynamoDB Local (or any DynamoDB endpoint)
 * that adds back what the real service does and the local engine never does, so that every client
 * pointed at it (handlers, pollers, scripts: anything using the AWS SDK with an endpoint override)
 * meets AWS's semantics in development and tests rather than first in production:
 *
 * - transaction conflicts: a TransactWriteItems holds its items from arrival until
 *   max(arrival + conflictWindowMs, upstream response), and is answered only then (a transaction
 *   holds its items until it completes, so a client never conflicts with its own answered
 *   transaction). Another transaction touching a held item (or an item a single write has in
 *   flight) is cancelled with `TransactionConflict`; a Put/Update/DeleteItem on a held item gets
 *   `TransactionConflictException`; BatchWriteItem returns such items in `UnprocessedItems`.
 *   ClientRequestToken idempotency is DynamoDB Local's own (it honours it); the proxy only lets an
 *   applied token's retry through without conflict or capacity checks, and answers a retry of a
 *   transaction still in progress with `TransactionInProgressException`, as AWS does;
 * - per-partition-key ceilings (1,000 WCU/s, 3,000 RCU/s on AWS): token buckets per table and
 *   partition-key value, `ProvisionedThroughputExceededException`, unprocessed batch items, or a
 *   cancelled transaction with reason `ThrottlingError`. Transactional writes cost double;
 * - GSI propagation lag: a query (or scan) on a global secondary index does not see an item until
 *   gsiLagMs after a write through the proxy that may have changed its entry there (a put, a
 *   delete, or an update naming one of that index's key attributes; an update of other attributes
 *   leaves a KEYS_ONLY entry as it was, as on AWS);
 * - random `ThrottlingException` and `InternalServerError` (500), half of the latter after the
 *   request was applied upstream, so a retried non-idempotent write is applied twice.
 *
 * Only data-plane operations are affected; control-plane calls pass straight through. The proxy
 * asks upstream for nothing but one DescribeTable per table (cached) to learn its key schema.
 * Not modelled: TransactGetItems conflicts (reads never conflict here), GSI items whose key
 * attributes were projected away or `Select: COUNT` queries (not filtered for lag), per-key
 * ceilings on Scan, and the previous version of an updated item showing on a GSI (it is hidden).
 *
 * STRICT_DYNAMODB selects the options for whoever starts the proxy (see strictOptionsFromEnv): on
 * with the defaults when unset, `off` to go without it, `conflictWindowMs=50,throttleRate=0` to tune.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { StrictDynamoOptions } from './strict-dynamodb/options';
import {
  CONFLICT_MESSAGE,
  cancelled,
  errorReply,
  jsonReply,
  type Reason,
  type Reply,
  rewritten,
  throughputExceeded,
} from './strict-dynamodb/replies';
import { TableSchemas } from './strict-dynamodb/schemas';
import { TokenBuckets } from './strict-dynamodb/token-buckets';
import { Upstream } from './strict-dynamodb/upstream';
import {
  batchWriteTarget,
  canon,
  type IndexesTouched,
  indexesTouchedBy,
  isObject,
  itemId,
  type Json,
  namespaceOf,
  partitionId,
  partitionValueOf,
  TARGET_PREFIX,
  type TableInfo,
  unitsOf,
} from './strict-dynamodb/wire';

export { DEFAULT_STRICT_OPTIONS, STRICT_DYNAMODB_ENV, type StrictDynamoOptions, strictOptionsFromEnv } from './strict-dynamodb/options';

export interface StrictStats {
  /** Every HTTP request the proxy received (control-plane calls included). */
  requests: number;
  /** TransactWriteItems cancelled with reason TransactionConflict. */
  transactionConflicts: number;
  /**
   * Put/Update/Delete answered TransactionConflictException (and BatchWriteItem items returned unprocessed because a
   * transaction held them).
   */
  writeConflicts: number;
  /** Requests (or batch items) refused because a partition key passed its ceiling. */
  keyThrottles: number;
  randomThrottles: number;
  errorsBeforeApply: number;
  errorsAfterApply: number;
  /** Items dropped from GSI query results because of the propagation lag. */
  hiddenByLag: number;
}

export interface StrictDynamoProxy {
  endpoint: string; // http://127.0.0.1:PORT
  port: number;
  options: StrictDynamoOptions;
  stats(): StrictStats;
  resetStats(): void;
  stop(): Promise<void>;
}

const DATA_PLANE = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);
/** Calls after which a table's cached key schema may be stale. */
const SCHEMA_CHANGES = new Set(['CreateTable', 'DeleteTable', 'UpdateTable']);
const WRITE_ACTIONS = ['Put', 'Update', 'Delete', 'ConditionCheck'] as const;
/** How long DynamoDB remembers a ClientRequestToken. */
const TOKEN_TTL_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 1000;

/** What one request carries into the operation handlers. */
interface Call {
  req: IncomingMessage;
  body: Buffer;
  input: Json;
  tables: Map<string, TableInfo>;
  namespace: string;
}

const zeroStats = (): StrictStats => ({
  requests: 0,
  transactionConflicts: 0,
  writeConflicts: 0,
  keyThrottles: 0,
  randomThrottles: 0,
  errorsBeforeApply: 0,
  errorsAfterApply: 0,
  hiddenByLag: 0,
});

class StrictDynamo {
  counters = zeroStats();
  readonly upstream: Upstream;
  private readonly schemas: TableSchemas;
  private readonly writeBuckets: TokenBuckets;
  private readonly readBuckets: TokenBuckets;
  /** Item → the transaction holding it (present only while held). */
  private readonly txLocks = new Map<string, object>();
  /** Item → number of single/batch writes in flight on it. */
  private readonly writeLocks = new Map<string, number>();
  /** Namespace + ClientRequestToken of transactions in progress / applied (→ when). */
  private readonly tokensInProgress = new Set<string>();
  private readonly appliedTokens = new Map<string, number>();
  /** Per item: when it was last written, and which indexes that write may have changed. */
  private readonly lastWrite = new Map<string, { at: number; indexes: IndexesTouched }>();
  private lastSweep: number;
  /** Pending conflict-window sleeps: stop() ends them. */
  readonly sleeps = new Map<NodeJS.Timeout, () => void>();

  constructor(
    target: string,
    readonly options: StrictDynamoOptions,
    private readonly random: () => number,
    private readonly now: () => number,
  ) {
    this.upstream = new Upstream(target);
    this.schemas = new TableSchemas(this.upstream);
    this.writeBuckets = new TokenBuckets(options.writeUnitsPerKey, now);
    this.readBuckets = new TokenBuckets(options.readUnitsPerKey, now);
    this.lastSweep = now();
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      reply = await this.route(req, Buffer.concat(chunks));
    } catch (err) {
      reply = errorReply(500, 'InternalServerError', `strict-dynamodb proxy: ${(err as Error).message}`);
    }
    if (res.destroyed) return;
    const headers = [...reply.headers, 'Content-Length', String(reply.body.length)];
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  }

  private async route(req: IncomingMessage, body: Buffer): Promise<Reply> {
    this.counters.requests += 1;
    this.maybeSweep();
    const target = req.headers['x-amz-target'];
    const op = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (!DATA_PLANE.has(op)) {
      if (SCHEMA_CHANGES.has(op)) this.schemas.forget();
      return this.upstream.forward(req, body);
    }
    let input: Json;
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (!isObject(parsed)) return this.upstream.forward(req, body);
      input = parsed;
    } catch {
      return this.upstream.forward(req, body); // upstream answers the malformed request
    }

    // Random failures: one draw per data-plane call. [0, t) throttles, [t, t+e/2) fails before
    // forwarding, [t+e/2, t+e) fails after the request was applied.
    const { throttleRate, errorRate } = this.options;
    const draw = this.random();
    if (draw < throttleRate) {
      this.counters.randomThrottles += 1;
      return errorReply(400, 'ThrottlingException', 'Rate of requests exceeds the allowed throughput.');
    }
    if (draw < throttleRate + errorRate / 2) {
      this.counters.errorsBeforeApply += 1;
      return errorReply(500, 'InternalServerError', 'Internal server error');
    }
    const failAfterApply = draw < throttleRate + errorRate;

    const namespace = namespaceOf(req.headers.authorization);
    const tables = await this.schemas.tablesFor(op, input, namespace, req);
    let reply: Reply;
    if (!tables) {
      reply = await this.upstream.forward(req, body); // a table upstream does not know: let it answer
    } else {
      const call: Call = { req, body, input, tables, namespace };
      reply = await this.dispatch(op, call);
    }
    if (failAfterApply && reply.forwarded) {
      this.counters.errorsAfterApply += 1;
      return errorReply(500, 'InternalServerError', 'Internal server error');
    }
    return reply;
  }

  private dispatch(op: string, call: Call): Promise<Reply> {
    switch (op) {
      case 'TransactWriteItems':
        return this.transactWrite(call);
      case 'PutItem':
        return this.singleWrite(call, call.input.Item, unitsOf(call.input.Item, 1024));
      case 'UpdateItem':
        return this.singleWrite(call, call.input.Key, 1, indexesTouchedBy(call.input));
      case 'DeleteItem':
        return this.singleWrite(call, call.input.Key, 1);
      case 'BatchWriteItem':
        return this.batchWrite(call);
      case 'GetItem':
        return this.getItem(call);
      case 'BatchGetItem':
        return this.batchGet(call);
      case 'TransactGetItems':
        return this.transactGet(call);
      case 'Query':
      case 'Scan':
        return this.queryOrScan(op, call);
      default:
        return this.upstream.forward(call.req, call.body);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.sleeps.delete(timer);
        done();
      }, ms);
      this.sleeps.set(timer, done);
    });
  }

  // ---- writes ------------------------------------------------------------------------------------

  private async transactWrite(call: Call): Promise<Reply> {
    const { input } = call;
    if (!Array.isArray(input.TransactItems)) return this.upstream.forward(call.req, call.body);
    const token = typeof input.ClientRequestToken === 'string' ? `${call.namespace}\u0000${input.ClientRequestToken}` : undefined;
    if (token !== undefined) {
      const appliedAt = this.appliedTokens.get(token);
      // A retry of an applied transaction: DynamoDB Local answers it idempotently (same token and
      // parameters → success without re-applying; other parameters → IdempotentParameterMismatch).
      if (appliedAt !== undefined && this.now() - appliedAt < TOKEN_TTL_MS) return this.upstream.forward(call.req, call.body);
      if (this.tokensInProgress.has(token)) {
        return errorReply(400, 'TransactionInProgressException', 'Transaction with the given request token is already in progress.');
      }
    }

    const actions = input.TransactItems.map((action) => {
      const kind = isObject(action) ? WRITE_ACTIONS.find((k) => isObject(action[k])) : undefined;
      const spec = kind ? ((action as Json)[kind] as Json) : undefined;
      const table = typeof spec?.TableName === 'string' ? call.tables.get(spec.TableName) : undefined;
      const keySource = kind === 'Put' ? spec?.Item : spec?.Key;
      return {
        kind,
        id: table ? itemId(table, keySource) : undefined,
        partition: table ? partitionId(table, keySource) : undefined,
        cost: 2 * (kind === 'Put' ? unitsOf(spec?.Item, 1024) : 1),
        indexes: kind === 'Update' && spec ? indexesTouchedBy(spec) : ('all' as IndexesTouched),
      };
    });

    const reasons: Reason[] = actions.map(({ id }) =>
      id !== undefined && (this.txLocks.has(id) || this.writeLocks.has(id)) ? 'TransactionConflict' : 'None',
    );
    const needs = new Map<string, number>();
    for (const a of actions) if (a.partition) needs.set(a.partition, (needs.get(a.partition) ?? 0) + a.cost);
    const short = new Set([...needs].filter(([p, need]) => this.writeBuckets.level(p) < need).map(([p]) => p));
    actions.forEach((a, i) => {
      if (reasons[i] === 'None' && a.partition && short.has(a.partition)) reasons[i] = 'ThrottlingError';
    });
    if (reasons.some((r) => r !== 'None')) {
      if (reasons.includes('TransactionConflict')) this.counters.transactionConflicts += 1;
      if (reasons.includes('ThrottlingError')) this.counters.keyThrottles += 1;
      return cancelled(reasons);
    }

    for (const [p, need] of needs) this.writeBuckets.charge(p, need);
    const owner = {};
    const held = actions.flatMap((a) => (a.id === undefined ? [] : [a.id]));
    for (const id of held) this.txLocks.set(id, owner);
    if (token !== undefined) this.tokensInProgress.add(token);
    let reply: Reply | undefined;
    try {
      const forwarded = this.upstream.forward(call.req, call.body).then((r) => {
        if (r.status === 200) {
          for (const a of actions) if (a.id !== undefined && a.kind !== 'ConditionCheck') this.recordWrite(a.id, a.indexes);
        }
        return r;
      });
      // The transaction holds its items (and its caller waits) for at least the conflict window.
      [reply] = await Promise.all([forwarded, this.sleep(this.options.conflictWindowMs)]);
      return reply;
    } finally {
      for (const id of held) if (this.txLocks.get(id) === owner) this.txLocks.delete(id);
      if (token !== undefined) {
        this.tokensInProgress.delete(token);
        if (reply?.status === 200) this.appliedTokens.set(token, this.now());
      }
    }
  }

  private async singleWrite(call: Call, keySource: unknown, cost: number, indexes: IndexesTouched = 'all'): Promise<Reply> {
    const table = typeof call.input.TableName === 'string' ? call.tables.get(call.input.TableName) : undefined;
    const id = table ? itemId(table, keySource) : undefined;
    const partition = table ? partitionId(table, keySource) : undefined;
    if (id !== undefined && this.txLocks.has(id)) {
      this.counters.writeConflicts += 1;
      return errorReply(400, 'TransactionConflictException', CONFLICT_MESSAGE);
    }
    if (partition !== undefined && !this.writeBuckets.take(partition, cost)) {
      this.counters.keyThrottles += 1;
      return throughputExceeded();
    }
    if (id === undefined) return this.upstream.forward(call.req, call.body);
    this.lockWrite(id);
    try {
      const reply = await this.upstream.forward(call.req, call.body);
      if (reply.status === 200) this.recordWrite(id, indexes);
      return reply;
    } finally {
      this.unlockWrite(id);
    }
  }

  private async batchWrite(call: Call): Promise<Reply> {
    const { input } = call;
    if (!isObject(input.RequestItems)) return this.upstream.forward(call.req, call.body);
    const kept: Record<string, unknown[]> = {};
    const refused: Record<string, unknown[]> = {};
    const written: { table: TableInfo; id: string }[] = [];
    let throttled = false;
    let refusedAny = false;
    for (const [name, requests] of Object.entries(input.RequestItems)) {
      const table = call.tables.get(name);
      if (!Array.isArray(requests) || !table) {
        kept[name] = requests as unknown[];
        continue;
      }
      for (const request of requests) {
        const { keySource, cost } = batchWriteTarget(request);
        const id = itemId(table, keySource);
        const partition = partitionId(table, keySource);
        let refuse = false;
        if (id !== undefined && this.txLocks.has(id)) {
          this.counters.writeConflicts += 1;
          refuse = true;
        } else if (partition !== undefined && !this.writeBuckets.take(partition, cost)) {
          this.counters.keyThrottles += 1;
          refuse = throttled = true;
        }
        if (refuse) {
          refusedAny = true;
          refused[name] ??= [];
          refused[name].push(request);
        } else {
          kept[name] ??= [];
          kept[name].push(request);
          if (id !== undefined) written.push({ table, id });
        }
      }
    }
    if (Object.keys(kept).length === 0) {
      // AWS: when no item can be processed for lack of throughput, the whole call is refused.
      return throttled ? throughputExceeded() : jsonReply({ UnprocessedItems: refused });
    }
    for (const { id } of written) this.lockWrite(id);
    try {
      const body = refusedAny ? Buffer.from(JSON.stringify({ ...input, RequestItems: kept })) : call.body;
      const reply = await this.upstream.forward(call.req, body);
      if (reply.status !== 200) return reply;
      const output = JSON.parse(reply.body.toString('utf8')) as Json;
      const unprocessed = isObject(output.UnprocessedItems) ? (output.UnprocessedItems as Record<string, unknown[]>) : {};
      const notWritten = new Set<string>();
      for (const [name, requests] of Object.entries(unprocessed)) {
        const table = call.tables.get(name);
        if (!table || !Array.isArray(requests)) continue;
        for (const request of requests) {
          const id = itemId(table, batchWriteTarget(request).keySource);
          if (id !== undefined) notWritten.add(id);
        }
      }
      for (const { id } of written) if (!notWritten.has(id)) this.recordWrite(id);
      if (!refusedAny) return reply;
      for (const [name, requests] of Object.entries(refused)) {
        unprocessed[name] = [...(unprocessed[name] ?? []), ...requests];
      }
      return rewritten(reply, { ...output, UnprocessedItems: unprocessed });
    } finally {
      for (const { id } of written) this.unlockWrite(id);
    }
  }

  private lockWrite(id: string): void {
    this.writeLocks.set(id, (this.writeLocks.get(id) ?? 0) + 1);
  }

  private unlockWrite(id: string): void {
    const n = (this.writeLocks.get(id) ?? 1) - 1;
    if (n > 0) this.writeLocks.set(id, n);
    else this.writeLocks.delete(id);
  }

  private recordWrite(id: string, indexes: IndexesTouched = 'all'): void {
    if (this.options.gsiLagMs > 0) this.lastWrite.set(id, { at: this.now(), indexes });
  }

  // ---- reads -------------------------------------------------------------------------------------

  private async getItem(call: Call): Promise<Reply> {
    const table = typeof call.input.TableName === 'string' ? call.tables.get(call.input.TableName) : undefined;
    const partition = table ? partitionId(table, call.input.Key) : undefined;
    const unit = call.input.ConsistentRead === true ? 1 : 0.5;
    if (partition !== undefined && this.readBuckets.level(partition) < unit) {
      this.counters.keyThrottles += 1;
      return throughputExceeded();
    }
    const reply = await this.upstream.forward(call.req, call.body);
    // Charged after the fact, per 4 KB of the returned item (the response approximates it).
    if (partition !== undefined) {
      this.readBuckets.charge(partition, Math.max(1, Math.ceil(reply.body.length / 4096)) * unit);
    }
    return reply;
  }

  private async batchGet(call: Call): Promise<Reply> {
    const { input } = call;
    if (!isObject(input.RequestItems)) return this.upstream.forward(call.req, call.body);
    const kept: Record<string, unknown> = {};
    const refused: Record<string, Json> = {};
    let keptAny = false;
    for (const [name, spec] of Object.entries(input.RequestItems)) {
      const table = call.tables.get(name);
      if (!isObject(spec) || !Array.isArray(spec.Keys) || !table) {
        kept[name] = spec;
        keptAny = true;
        continue;
      }
      const unit = spec.ConsistentRead === true ? 1 : 0.5;
      const keys: unknown[] = [];
      const refusedKeys: unknown[] = [];
      for (const key of spec.Keys) {
        const partition = partitionId(table, key);
        if (partition === undefined || this.readBuckets.take(partition, unit)) keys.push(key);
        else {
          this.counters.keyThrottles += 1;
          refusedKeys.push(key);
        }
      }
      if (keys.length > 0) {
        kept[name] = { ...spec, Keys: keys };
        keptAny = true;
      }
      if (refusedKeys.length > 0) refused[name] = { ...spec, Keys: refusedKeys };
    }
    const refusedAny = Object.keys(refused).length > 0;
    if (!keptAny) return throughputExceeded();
    if (!refusedAny) return this.upstream.forward(call.req, call.body);
    const reply = await this.upstream.forward(call.req, Buffer.from(JSON.stringify({ ...input, RequestItems: kept })));
    if (reply.status !== 200) return reply;
    const output = JSON.parse(reply.body.toString('utf8')) as Json;
    const unprocessed = isObject(output.UnprocessedKeys) ? (output.UnprocessedKeys as Record<string, Json>) : {};
    for (const [name, spec] of Object.entries(refused)) {
      const theirs = unprocessed[name];
      unprocessed[name] = theirs && Array.isArray(theirs.Keys) ? { ...theirs, Keys: [...theirs.Keys, ...(spec.Keys as unknown[])] } : spec;
    }
    return rewritten(reply, { ...output, UnprocessedKeys: unprocessed });
  }

  private async transactGet(call: Call): Promise<Reply> {
    const items = Array.isArray(call.input.TransactItems) ? call.input.TransactItems : [];
    const partitions = items.map((action) => {
      const get = isObject(action) && isObject(action.Get) ? action.Get : undefined;
      const table = typeof get?.TableName === 'string' ? call.tables.get(get.TableName) : undefined;
      return table ? partitionId(table, get?.Key) : undefined;
    });
    // Transactional reads cost 2 units per item (per 4 KB, not known before the read).
    const needs = new Map<string, number>();
    for (const p of partitions) if (p !== undefined) needs.set(p, (needs.get(p) ?? 0) + 2);
    const short = new Set([...needs].filter(([p, need]) => this.readBuckets.level(p) < need).map(([p]) => p));
    if (short.size > 0) {
      this.counters.keyThrottles += 1;
      return cancelled(partitions.map((p) => (p !== undefined && short.has(p) ? 'ThrottlingError' : 'None')));
    }
    for (const [p, need] of needs) this.readBuckets.charge(p, need);
    return this.upstream.forward(call.req, call.body);
  }

  private async queryOrScan(op: 'Query' | 'Scan', call: Call): Promise<Reply> {
    const { input } = call;
    const table = typeof input.TableName === 'string' ? call.tables.get(input.TableName) : undefined;
    if (!table) return this.upstream.forward(call.req, call.body);
    const indexName = typeof input.IndexName === 'string' ? input.IndexName : undefined;
    const gsi = indexName !== undefined ? table.gsis.get(indexName) : undefined;
    let bucket: string | undefined;
    const unit = input.ConsistentRead === true ? 1 : 0.5;
    if (op === 'Query') {
      // A local secondary index shares the table's partition key (and its partition).
      const value = canon(partitionValueOf(input, gsi ? gsi.hash : table.key.hash));
      if (value !== undefined) {
        bucket = gsi ? `${table.id}\u0002${indexName}\u0001${value}` : `${table.id}\u0001${value}`;
      }
      if (bucket !== undefined && this.readBuckets.level(bucket) < unit) {
        this.counters.keyThrottles += 1;
        return throughputExceeded();
      }
    }
    const reply = await this.upstream.forward(call.req, call.body);
    // Charged after the response, by its size (so a large page can take the bucket negative).
    if (bucket !== undefined) this.readBuckets.charge(bucket, Math.max(1, Math.ceil(reply.body.length / 4096)) * unit);
    if (!gsi || reply.status !== 200 || this.lastWrite.size === 0) return reply;
    return this.hideLagging(table, reply, indexName as string);
  }

  /** Drops from a GSI page the items whose entry in that index changed less than gsiLagMs ago. */
  private hideLagging(table: TableInfo, reply: Reply, indexName: string): Reply {
    const output = JSON.parse(reply.body.toString('utf8')) as Json;
    if (!Array.isArray(output.Items)) return reply;
    const now = this.now();
    const index = table.gsis.get(indexName);
    const visible = output.Items.filter((item) => {
      const id = itemId(table, item);
      const write = id === undefined ? undefined : this.lastWrite.get(id);
      if (write === undefined || now - write.at >= this.options.gsiLagMs) return true;
      // An update that names none of the index's key attributes leaves its entry as it was.
      const touched = write.indexes;
      return touched !== 'all' && index !== undefined && ![index.hash, index.range].some((a) => a !== undefined && touched.has(a));
    });
    const hidden = output.Items.length - visible.length;
    if (hidden === 0) return reply;
    this.counters.hiddenByLag += hidden;
    const changed: Json = { ...output, Items: visible, Count: visible.length };
    if (typeof output.ScannedCount === 'number') changed.ScannedCount = output.ScannedCount - hidden;
    return rewritten(reply, changed);
  }

  // ---- bounded memory ----------------------------------------------------------------------------

  private maybeSweep(): void {
    const now = this.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [id, { at }] of this.lastWrite) if (now - at >= this.options.gsiLagMs) this.lastWrite.delete(id);
    for (const [token, at] of this.appliedTokens) if (now - at >= TOKEN_TTL_MS) this.appliedTokens.delete(token);
    this.writeBuckets.sweep();
    this.readBuckets.sweep();
  }
}

export async function startStrictDynamoProxy(
  target: string, // upstream endpoint, e.g. http://127.0.0.1:8000
  options: StrictDynamoOptions,
  extra: { port?: number; random?: () => number; now?: () => number } = {},
): Promise<StrictDynamoProxy> {
  const engine = new StrictDynamo(target, { ...options }, extra.random ?? Math.random, extra.now ?? Date.now);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    void engine.handle(req, res);
  });
  // Idle client connections stay open for long, as AWS's do (the SDK keeps them alive), so a
  // request is never sent on a socket the proxy is just closing.
  server.keepAliveTimeout = 55_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(extra.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    options: engine.options,
    stats: () => ({ ...engine.counters }),
    resetStats: () => {
      engine.counters = zeroStats();
    },
    stop: () =>
      (stopping ??= new Promise<void>((done) => {
        server.close(() => done());
        for (const socket of sockets) socket.destroy();
        for (const [timer, wake] of engine.sleeps) {
          clearTimeout(timer);
          wake();
        }
        engine.sleeps.clear();
        engine.upstream.destroy();
      })),
  };
}
