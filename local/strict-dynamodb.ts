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
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { crc32 } from 'node:zlib';

export const STRICT_DYNAMODB_ENV = 'STRICT_DYNAMODB';

export interface StrictDynamoOptions {
  /** How long a TransactWriteItems holds its items after it arrives (ms); default 20. */
  conflictWindowMs: number;
  /** Per-partition-key ceilings (AWS: 1000 WCU/s, 3000 RCU/s). */
  writeUnitsPerKey: number;
  readUnitsPerKey: number;
  /** New and changed items reach GSI queries after this delay (ms); default 100. */
  gsiLagMs: number;
  /** Share of data-plane calls answered with ThrottlingException (default 0.01). */
  throttleRate: number;
  /** Share of data-plane calls answered with a 500 InternalServerError (default 0.002); half of them after the request was applied upstream. */
  errorRate: number;
}

export const DEFAULT_STRICT_OPTIONS: StrictDynamoOptions = Object.freeze({
  conflictWindowMs: 20,
  writeUnitsPerKey: 1000,
  readUnitsPerKey: 3000,
  gsiLagMs: 100,
  throttleRate: 0.01,
  errorRate: 0.002,
});

const OPTION_KEYS = Object.keys(DEFAULT_STRICT_OPTIONS) as (keyof StrictDynamoOptions)[];
const ON = new Set(['', 'on', 'true', '1']);
const OFF = new Set(['off', 'false', '0']);

/**
 * Parses STRICT_DYNAMODB (read from the environment when no value is given):
 * unset/''/'on'/'true'/'1' → the defaults; 'off'/'false'/'0' → undefined (strict off);
 * 'conflictWindowMs=20,throttleRate=0.02,…' → the defaults overridden by those keys (an 'on,'
 * prefix is optional). Unknown keys or bad numbers throw an Error listing the valid keys.
 */
export function strictOptionsFromEnv(value: string | undefined = process.env[STRICT_DYNAMODB_ENV]): StrictDynamoOptions | undefined {
  const text = (value ?? '').trim();
  if (OFF.has(text.toLowerCase())) return undefined;
  const options: StrictDynamoOptions = { ...DEFAULT_STRICT_OPTIONS };
  if (ON.has(text.toLowerCase())) return options;
  const usage =
    `valid keys: ${OPTION_KEYS.join(', ')} (e.g. ${STRICT_DYNAMODB_ENV}=conflictWindowMs=50,throttleRate=0); ` +
    `or on/true/1, off/false/0`;
  const parts = text.split(',').map((p) => p.trim());
  parts.forEach((part, index) => {
    if (part === '' || (index === 0 && ON.has(part.toLowerCase()))) return;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new Error(`${STRICT_DYNAMODB_ENV}: '${part}' is not key=value; ${usage}`);
    }
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const key = OPTION_KEYS.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) throw new Error(`${STRICT_DYNAMODB_ENV}: unknown key '${name}'; ${usage}`);
    const n = raw === '' ? NaN : Number(raw);
    const isRate = key === 'throttleRate' || key === 'errorRate';
    const isCeiling = key === 'writeUnitsPerKey' || key === 'readUnitsPerKey';
    if (!Number.isFinite(n) || n < 0 || (isRate && n > 1) || (isCeiling && n <= 0)) {
      const want = isRate ? 'a number from 0 to 1' : isCeiling ? 'a number above 0' : 'a number ≥ 0';
      throw new Error(`${STRICT_DYNAMODB_ENV}: ${key}=${raw} is not ${want}; ${usage}`);
    }
    options[key] = n;
  });
  if (options.throttleRate + options.errorRate > 1) {
    throw new Error(`${STRICT_DYNAMODB_ENV}: throttleRate + errorRate must not exceed 1; ${usage}`);
  }
  return options;
}

export interface StrictStats {
  /** Every HTTP request the proxy received (control-plane calls included). */
  requests: number;
  /** TransactWriteItems cancelled with reason TransactionConflict. */
  transactionConflicts: number;
  /** Put/Update/Delete answered TransactionConflictException (and BatchWriteItem items returned unprocessed because a transaction held them). */
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

// ---- DynamoDB wire shapes (typed JSON) ---------------------------------------------------------

type Json = Record<string, unknown>;

interface KeySchema {
  hash: string;
  range?: string;
}
interface TableInfo {
  /** Namespace (DynamoDB Local keeps one database per access key and region) + table name. */
  id: string;
  key: KeySchema;
  gsis: Map<string, KeySchema>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
const JSON_TYPE = 'application/x-amz-json-1.0';
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

const CONFLICT_MESSAGE = 'Transaction is ongoing for the item';
const THROUGHPUT_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your ' +
  'table or index so please try again shortly. If exceptions persist, check if you have a hot key: ' +
  'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.';

/** The attributes a write may have changed: every one (a put, a delete) or those an update names. */
type IndexesTouched = 'all' | Set<string>;

/**
 * Attribute names an UpdateItem's expression names (SET/REMOVE/ADD/DELETE targets and operands):
 * an index whose key attributes are not among them keeps its entry unchanged, as on AWS.
 */
function indexesTouchedBy(update: Json): IndexesTouched {
  if (typeof update.UpdateExpression !== 'string') return 'all';
  const names = isObject(update.ExpressionAttributeNames) ? (update.ExpressionAttributeNames as Record<string, unknown>) : {};
  const touched = new Set<string>();
  for (const token of update.UpdateExpression.match(/#?[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    if (token.startsWith('#')) {
      const name = names[token];
      if (typeof name === 'string') touched.add(name);
    } else touched.add(token);
  }
  return touched;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key attribute value as a string that equal values share (S, N with its zeros trimmed, B). */
function canon(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.S === 'string') return `S${value.S}`;
  if (typeof value.B === 'string') return `B${value.B}`;
  if (typeof value.N === 'string') {
    let n = value.N.trim();
    const sign = n.startsWith('-') ? '-' : '';
    n = n.replace(/^[-+]/, '').replace(/^0+(?=\d)/, '');
    if (n.includes('.')) n = n.replace(/0+$/, '').replace(/\.$/, '');
    return `N${n === '0' ? '' : sign}${n}`;
  }
  return undefined;
}

function partitionId(table: TableInfo, keyOrItem: unknown): string | undefined {
  if (!isObject(keyOrItem)) return undefined;
  const hash = canon(keyOrItem[table.key.hash]);
  return hash === undefined ? undefined : `${table.id}\u0001${hash}`;
}

/** Item identity: table + full primary key (undefined when the key attributes are missing). */
function itemId(table: TableInfo, keyOrItem: unknown): string | undefined {
  const partition = partitionId(table, keyOrItem);
  if (partition === undefined || !table.key.range) return partition;
  const range = canon((keyOrItem as Json)[table.key.range]);
  return range === undefined ? undefined : `${partition}\u0001${range}`;
}

/** Capacity units for `value` at `per` bytes a unit (JSON length approximates DynamoDB's item size). */
function unitsOf(value: unknown, per: number): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? {}).length / per));
}

/** A BatchWriteItem request's key (the item for a put) and write units. */
function batchWriteTarget(request: unknown): { keySource: unknown; cost: number } {
  if (isObject(request) && isObject(request.PutRequest)) {
    return { keySource: request.PutRequest.Item, cost: unitsOf(request.PutRequest.Item, 1024) };
  }
  return { keySource: isObject(request) && isObject(request.DeleteRequest) ? request.DeleteRequest.Key : undefined, cost: 1 };
}

/** The value a Query's key condition gives the partition key `attribute`. */
function partitionValueOf(input: Json, attribute: string): unknown {
  const legacy = input.KeyConditions;
  if (isObject(legacy)) {
    const condition = legacy[attribute];
    if (isObject(condition) && condition.ComparisonOperator === 'EQ' && Array.isArray(condition.AttributeValueList)) {
      return condition.AttributeValueList[0];
    }
    return undefined;
  }
  if (typeof input.KeyConditionExpression !== 'string') return undefined;
  const names = isObject(input.ExpressionAttributeNames) ? input.ExpressionAttributeNames : {};
  const values = isObject(input.ExpressionAttributeValues) ? input.ExpressionAttributeValues : {};
  const operand = /([#:]?[A-Za-z0-9_.-]+)\s*=\s*([#:]?[A-Za-z0-9_.-]+)/g;
  for (const [, left = '', right = ''] of input.KeyConditionExpression.matchAll(operand)) {
    const [name, placeholder] = left.startsWith(':') ? [right, left] : [left, right];
    if (!placeholder.startsWith(':')) continue;
    const resolved = name.startsWith('#') ? names[name] : name;
    if (resolved === attribute) return values[placeholder];
  }
  return undefined;
}

/** Continuously refilled token buckets, capacity one second's worth. */
class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
  ) {}

  level(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.rate;
    const t = this.now();
    bucket.tokens = Math.min(this.rate, bucket.tokens + (Math.max(0, t - bucket.at) / 1000) * this.rate);
    bucket.at = t;
    return bucket.tokens;
  }

  /** Charges `cost` (the level may go negative: reads are charged after the fact). */
  charge(key: string, cost: number): void {
    const level = this.level(key);
    this.buckets.set(key, { tokens: level - cost, at: this.now() });
  }

  /** Charges `cost` if the bucket holds it; false (nothing charged) otherwise. */
  take(key: string, cost: number): boolean {
    if (this.level(key) < cost) return false;
    this.charge(key, cost);
    return true;
  }

  /** Forgets full buckets (a missing bucket is a full one). */
  sweep(): void {
    for (const key of [...this.buckets.keys()]) if (this.level(key) >= this.rate) this.buckets.delete(key);
  }
}

/** A response, synthesized or from upstream: raw header list without length/hop-by-hop headers. */
interface Reply {
  status: number;
  headers: string[];
  body: Buffer;
  /** Whether the request reached upstream (a 500-after-apply only replaces forwarded replies). */
  forwarded: boolean;
}

/** Not passed on: lengths are recomputed, the body is already read whole (no 100-continue). */
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'expect']);

function withoutHeaders(raw: readonly string[], drop: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!drop.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

function errorReply(status: number, type: string, message: string, extra: Json = {}): Reply {
  const body = Buffer.from(JSON.stringify({ __type: `${ERROR_PREFIX}${type}`, message, ...extra }));
  return {
    status,
    headers: ['Content-Type', JSON_TYPE, 'x-amzn-RequestId', randomUUID(), 'x-amz-crc32', String(crc32(body))],
    body,
    forwarded: false,
  };
}

function jsonReply(value: Json): Reply {
  const body = Buffer.from(JSON.stringify(value));
  return {
    status: 200,
    headers: ['Content-Type', JSON_TYPE, 'x-amzn-RequestId', randomUUID(), 'x-amz-crc32', String(crc32(body))],
    body,
    forwarded: false,
  };
}

/** An upstream reply with a new JSON body (the checksum recomputed). */
function rewritten(reply: Reply, value: Json): Reply {
  const body = Buffer.from(JSON.stringify(value));
  const headers = withoutHeaders(reply.headers, new Set(['x-amz-crc32']));
  headers.push('x-amz-crc32', String(crc32(body)));
  return { ...reply, headers, body };
}

type Reason = 'None' | 'TransactionConflict' | 'ThrottlingError';

function cancelled(reasons: Reason[]): Reply {
  return errorReply(
    400,
    'TransactionCanceledException',
    `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.join(', ')}]`,
    {
      CancellationReasons: reasons.map((Code) =>
        Code === 'TransactionConflict'
          ? { Code, Message: CONFLICT_MESSAGE }
          : Code === 'ThrottlingError'
            ? { Code, Message: THROUGHPUT_MESSAGE }
            : { Code },
      ),
    },
  );
}

const throughputExceeded = () => errorReply(400, 'ProvisionedThroughputExceededException', THROUGHPUT_MESSAGE);

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
  private readonly upstreamUrl: URL;
  readonly agent = new Agent({ keepAlive: true });
  private readonly writeBuckets: TokenBuckets;
  private readonly readBuckets: TokenBuckets;
  /** Item → the transaction holding it (present only while held). */
  private readonly txLocks = new Map<string, object>();
  /** Item → number of single/batch writes in flight on it. */
  private readonly writeLocks = new Map<string, number>();
  /** Namespace + ClientRequestToken of transactions in progress / applied (→ when). */
  private readonly tokensInProgress = new Set<string>();
  private readonly appliedTokens = new Map<string, number>();
  /** Item → when its last write through the proxy completed upstream. */
  /** Per item: when it was last written, and which indexes that write may have changed. */
  private readonly lastWrite = new Map<string, { at: number; indexes: IndexesTouched }>();
  private readonly tables = new Map<string, TableInfo>();
  private readonly describing = new Map<string, Promise<TableInfo | undefined>>();
  private lastSweep: number;
  /** Pending conflict-window sleeps: stop() ends them. */
  readonly sleeps = new Map<NodeJS.Timeout, () => void>();

  constructor(
    target: string,
    readonly options: StrictDynamoOptions,
    private readonly random: () => number,
    private readonly now: () => number,
  ) {
    this.upstreamUrl = new URL(target);
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
      if (SCHEMA_CHANGES.has(op)) this.forgetSchemas();
      return this.forward(req, body);
    }
    let input: Json;
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (!isObject(parsed)) return this.forward(req, body);
      input = parsed;
    } catch {
      return this.forward(req, body); // upstream answers the malformed request
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
    const tables = await this.tablesFor(op, input, namespace, req);
    let reply: Reply;
    if (!tables) {
      reply = await this.forward(req, body); // a table upstream does not know: let it answer
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
        return this.forward(call.req, call.body);
    }
  }

  /** Sends the request upstream with its raw headers (a new body gets its new length). */
  private forward(req: IncomingMessage, body: Buffer): Promise<Reply> {
    const headers = withoutHeaders(req.rawHeaders, HOP_HEADERS);
    headers.push('Content-Length', String(body.length));
    return this.send(req.method ?? 'POST', req.url ?? '/', headers, body);
  }

  private send(method: string, path: string, headers: string[] | OutgoingHttpHeaders, body: Buffer, retried = false): Promise<Reply> {
    return new Promise((done, fail) => {
      const upstream = httpRequest(
        {
          protocol: this.upstreamUrl.protocol,
          hostname: this.upstreamUrl.hostname,
          port: this.upstreamUrl.port,
          method,
          path,
          headers: headers as OutgoingHttpHeaders,
          agent: this.agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () =>
            done({
              status: response.statusCode ?? 500,
              headers: withoutHeaders(response.rawHeaders, HOP_HEADERS),
              body: Buffer.concat(chunks),
              forwarded: true,
            }),
          );
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive upstream socket the server closed meanwhile: the request never reached it.
        if (upstream.reusedSocket && err.code === 'ECONNRESET' && !retried) {
          done(this.send(method, path, headers, body, true));
        } else {
          fail(err);
        }
      });
      upstream.end(body);
    });
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

  // ---- key schemas (one DescribeTable per table) -------------------------------------------------

  private forgetSchemas(): void {
    this.tables.clear();
  }

  /** The tables a request names, with their key schemas; undefined if one is unknown upstream. */
  private async tablesFor(op: string, input: Json, namespace: string, req: IncomingMessage): Promise<Map<string, TableInfo> | undefined> {
    const names = new Set<string>();
    if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
      for (const action of Array.isArray(input.TransactItems) ? input.TransactItems : []) {
        if (!isObject(action)) continue;
        for (const spec of Object.values(action)) {
          if (isObject(spec) && typeof spec.TableName === 'string') names.add(spec.TableName);
        }
      }
    } else if (op === 'BatchWriteItem' || op === 'BatchGetItem') {
      if (isObject(input.RequestItems)) for (const name of Object.keys(input.RequestItems)) names.add(name);
    } else if (typeof input.TableName === 'string') {
      names.add(input.TableName);
    }
    const found = new Map<string, TableInfo>();
    const missing: string[] = [];
    for (const name of names) {
      const info = this.tables.get(`${namespace}\u0000${name}`);
      if (info) found.set(name, info);
      else missing.push(name);
    }
    // Cached schemas are read synchronously, so a request's checks and locks happen in the tick it
    // was parsed in.
    if (missing.length > 0) {
      const infos = await Promise.all(missing.map((name) => this.describe(namespace, name, req)));
      for (const [i, info] of infos.entries()) {
        if (!info) return undefined;
        found.set(missing[i] as string, info);
      }
    }
    return found;
  }

  private describe(namespace: string, name: string, req: IncomingMessage): Promise<TableInfo | undefined> {
    const cacheKey = `${namespace}\u0000${name}`;
    let pending = this.describing.get(cacheKey);
    if (!pending) {
      pending = this.describeUpstream(namespace, name, req)
        .then((info) => {
          if (info) this.tables.set(cacheKey, info);
          return info;
        })
        .catch(() => undefined)
        .finally(() => this.describing.delete(cacheKey));
      this.describing.set(cacheKey, pending);
    }
    return pending;
  }

  private async describeUpstream(namespace: string, name: string, req: IncomingMessage): Promise<TableInfo | undefined> {
    const body = Buffer.from(JSON.stringify({ TableName: name }));
    const headers: OutgoingHttpHeaders = {
      host: this.upstreamUrl.host,
      'content-type': JSON_TYPE,
      'x-amz-target': `${TARGET_PREFIX}DescribeTable`,
      'content-length': body.length,
    };
    // The caller's credentials select DynamoDB Local's database (it ignores the signature).
    for (const h of ['authorization', 'x-amz-date', 'x-amz-security-token']) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    const reply = await this.send('POST', '/', headers, body);
    if (reply.status !== 200) return undefined;
    const table = (JSON.parse(reply.body.toString('utf8')) as { Table?: Json }).Table;
    if (!table) return undefined;
    const schema = (keys: unknown): KeySchema | undefined => {
      if (!Array.isArray(keys)) return undefined;
      const hash = keys.find((k) => isObject(k) && k.KeyType === 'HASH') as Json | undefined;
      const range = keys.find((k) => isObject(k) && k.KeyType === 'RANGE') as Json | undefined;
      if (typeof hash?.AttributeName !== 'string') return undefined;
      return typeof range?.AttributeName === 'string'
        ? { hash: hash.AttributeName, range: range.AttributeName }
        : { hash: hash.AttributeName };
    };
    const key = schema(table.KeySchema);
    if (!key) return undefined;
    const gsis = new Map<string, KeySchema>();
    for (const gsi of Array.isArray(table.GlobalSecondaryIndexes) ? table.GlobalSecondaryIndexes : []) {
      const indexKey = isObject(gsi) ? schema(gsi.KeySchema) : undefined;
      if (indexKey && typeof (gsi as Json).IndexName === 'string') gsis.set((gsi as Json).IndexName as string, indexKey);
    }
    const tableName = typeof table.TableName === 'string' ? table.TableName : name;
    return { id: `${namespace}\u0000${tableName}`, key, gsis };
  }

  // ---- writes ------------------------------------------------------------------------------------

  private async transactWrite(call: Call): Promise<Reply> {
    const { input } = call;
    if (!Array.isArray(input.TransactItems)) return this.forward(call.req, call.body);
    const token = typeof input.ClientRequestToken === 'string' ? `${call.namespace}\u0000${input.ClientRequestToken}` : undefined;
    if (token !== undefined) {
      const appliedAt = this.appliedTokens.get(token);
      // A retry of an applied transaction: DynamoDB Local answers it idempotently (same token and
      // parameters → success without re-applying; other parameters → IdempotentParameterMismatch).
      if (appliedAt !== undefined && this.now() - appliedAt < TOKEN_TTL_MS) return this.forward(call.req, call.body);
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
      const forwarded = this.forward(call.req, call.body).then((r) => {
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
    if (id === undefined) return this.forward(call.req, call.body);
    this.lockWrite(id);
    try {
      const reply = await this.forward(call.req, call.body);
      if (reply.status === 200) this.recordWrite(id, indexes);
      return reply;
    } finally {
      this.unlockWrite(id);
    }
  }

  private async batchWrite(call: Call): Promise<Reply> {
    const { input } = call;
    if (!isObject(input.RequestItems)) return this.forward(call.req, call.body);
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
      const reply = await this.forward(call.req, body);
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
    const reply = await this.forward(call.req, call.body);
    // Charged after the fact, per 4 KB of the returned item (the response approximates it).
    if (partition !== undefined) {
      this.readBuckets.charge(partition, Math.max(1, Math.ceil(reply.body.length / 4096)) * unit);
    }
    return reply;
  }

  private async batchGet(call: Call): Promise<Reply> {
    const { input } = call;
    if (!isObject(input.RequestItems)) return this.forward(call.req, call.body);
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
    if (!refusedAny) return this.forward(call.req, call.body);
    const reply = await this.forward(call.req, Buffer.from(JSON.stringify({ ...input, RequestItems: kept })));
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
    return this.forward(call.req, call.body);
  }

  private async queryOrScan(op: 'Query' | 'Scan', call: Call): Promise<Reply> {
    const { input } = call;
    const table = typeof input.TableName === 'string' ? call.tables.get(input.TableName) : undefined;
    if (!table) return this.forward(call.req, call.body);
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
    const reply = await this.forward(call.req, call.body);
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

/** `AKID/region` from a SigV4 Authorization header: DynamoDB Local's database for the caller. */
function namespaceOf(authorization: string | undefined): string {
  const match = authorization ? /Credential=([^/,\s]+)\/[^/]*\/([^/]+)\//.exec(authorization) : null;
  return match ? `${match[1]}/${match[2]}` : '';
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
        engine.agent.destroy();
      })),
  };
}
