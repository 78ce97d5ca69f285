/**
 * The DynamoDB adapter's contention and retry paths, which DynamoDB Local never exercises (it
 * returns no TransactionConflict, and no 500 after a write was applied): transactions retried with
 * a new or the same ClientRequestToken, grouped transitions falling back to one member per
 * transaction, counter deltas on shards, batch-id allocation with admission (and its SDK retry),
 * the Idempotency-Key race and supersession.
 *
 * The document client is mocked with aws-sdk-client-mock over a tiny in-memory table. BatchGet and
 * Get read it; UpdateItem (`updateItem`) and TransactWriteItems (`commit`, mocked per test) do what
 * DynamoDB does with the expression forms the adapter writes: every condition is evaluated (a
 * failure cancels the whole transaction with one reason per action, or throws
 * ConditionalCheckFailedException with the old item, marshalled, when asked for ALL_OLD), SET / ADD
 * / REMOVE and Puts are applied, a committed ClientRequestToken is answered again without being
 * applied twice, and two actions on one item are refused. An expression form the table does not
 * know fails the test rather than passing silently.
 */
import {
  ConditionalCheckFailedException,
  IdempotentParameterMismatchException,
  InternalServerError,
  TransactionCanceledException,
  TransactionConflictException,
  TransactionInProgressException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { resetClients } from '../../lambdas/adapters/aws-clients';
import { dynamoQueueStore } from '../../lambdas/adapters/dynamo';
import { memberItem } from '../../lambdas/adapters/dynamo/codec';
import { BATCH_COUNTER_SHARDS, CUSTOMER_COUNTER_SHARDS } from '../../lambdas/adapters/dynamo/counters';
import { keys } from '../../lambdas/adapters/dynamo/keys';
import { ALLOCATION_TOKEN_PERIOD_MS, createBatch } from '../../lambdas/adapters/dynamo/submit-writes';
import { supersede } from '../../lambdas/adapters/dynamo/supersession';
import { runTransaction, type TransactAction } from '../../lambdas/adapters/dynamo/transactions';
import { applyTransitions } from '../../lambdas/adapters/dynamo/transitions';
import type { Transition } from '../../lambdas/domain/accounting';
import type { BatchRecord, MemberRecord } from '../../lambdas/domain/model';
import { aBatch, aMember } from '../support/records';

const TABLE = 'store-conflicts-test';
const ddb = mockClient(DynamoDBDocumentClient);
const saved = { TABLE_NAME: process.env.TABLE_NAME, AWS_REGION: process.env.AWS_REGION };

// ---------------------------------------------------------------------------------------------
// The in-memory table
// ---------------------------------------------------------------------------------------------

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };
type Names = Record<string, string> | undefined;
type Values = Record<string, unknown> | undefined;

/** Items by `pk|sk`. */
let table: Map<string, Item>;
/** ClientRequestTokens of committed transactions, with the request they committed (DynamoDB keeps them 10 minutes). */
let committed: Map<string, string>;

const keyOf = (k: Item) => `${String(k.pk)}|${String(k.sk)}`;
const get = (k: Key): Item | undefined => table.get(keyOf(k));
const put = (item: Item) => table.set(keyOf(item), structuredClone(item));

/** Adds to numeric attributes of an item as another writer would (created on first use). */
function addTo(key: Key, identity: Item, deltas: Record<string, number>) {
  const item = get(key) ?? { ...key, ...identity };
  for (const [f, v] of Object.entries(deltas)) item[f] = Number(item[f] ?? 0) + v;
  table.set(keyOf(key), item);
}

function attributeName(token: string, names: Names): string {
  if (!token.startsWith('#')) return token;
  const name = names?.[token];
  if (name === undefined) throw new Error(`${token} is not in ExpressionAttributeNames`);
  return name;
}

function attributeValue(token: string, values: Values): unknown {
  if (!values || !(token in values)) throw new Error(`${token} is not in ExpressionAttributeValues`);
  return values[token];
}

function tokenize(expression: string): string[] {
  const pattern = /\s*(<=|>=|<>|[()=<>,]|[#:]?[A-Za-z_]\w*)/y;
  const tokens: string[] = [];
  while (pattern.lastIndex < expression.trimEnd().length) {
    const at = pattern.lastIndex;
    const match = pattern.exec(expression);
    if (!match?.[1]) throw new Error(`the in-memory table cannot read "${expression}" at ${at}`);
    tokens.push(match[1]);
  }
  return tokens;
}

/** Evaluates a condition expression (AND / OR / NOT, parentheses, attribute_(not_)exists, comparisons). */
function conditionHolds(expression: string, item: Item | undefined, names: Names, values: Values): boolean {
  const tokens = tokenize(expression);
  let i = 0;
  const next = (): string => {
    const token = tokens[i++];
    if (token === undefined) throw new Error(`unexpected end of "${expression}"`);
    return token;
  };
  const expect_ = (token: string) => {
    if (next() !== token) throw new Error(`expected ${token} in "${expression}"`);
  };
  const operand = (token: string): unknown => (token.startsWith(':') ? attributeValue(token, values) : item?.[attributeName(token, names)]);
  const primary = (): boolean => {
    const token = next();
    if (token === '(') {
      const inner = or();
      expect_(')');
      return inner;
    }
    if (token === 'contains') {
      expect_('(');
      const set = item?.[attributeName(next(), names)];
      expect_(',');
      const value = operand(next());
      expect_(')');
      if (set !== undefined && !(set instanceof Set))
        throw new Error(`the in-memory table knows contains() on sets only, in "${expression}"`);
      return set?.has(value) ?? false;
    }
    if (token === 'attribute_exists' || token === 'attribute_not_exists') {
      expect_('(');
      const name = attributeName(next(), names);
      const exists = item !== undefined && item[name] !== undefined;
      expect_(')');
      return token === 'attribute_exists' ? exists : !exists;
    }
    const left = operand(token);
    const op = next();
    const right = operand(next());
    // A missing attribute, or operands of different types, compare false.
    if (left === undefined || right === undefined || typeof left !== typeof right) return false;
    if (typeof left !== 'number' && typeof left !== 'string') throw new Error(`cannot compare ${typeof left} in "${expression}"`);
    const [a, b] = [left, right as typeof left];
    switch (op) {
      case '=':
        return a === b;
      case '<>':
        return a !== b;
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      case '>=':
        return a >= b;
      default:
        throw new Error(`the in-memory table does not know ${op} in "${expression}"`);
    }
  };
  const unary = (): boolean => {
    if (tokens[i] === 'NOT') {
      i++;
      return !unary();
    }
    return primary();
  };
  const and = (): boolean => {
    let holds = unary();
    while (tokens[i] === 'AND') {
      i++;
      holds = unary() && holds;
    }
    return holds;
  };
  const or = (): boolean => {
    let holds = and();
    while (tokens[i] === 'OR') {
      i++;
      holds = and() || holds;
    }
    return holds;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`the in-memory table cannot read "${expression}" past token ${i}`);
  return result;
}

/** The clauses of an update expression: `SET a = :a, #b = :b ADD #c :c REMOVE d`. */
function clausesOf(expression: string): { keyword: string; parts: string[] }[] {
  const pieces = expression.split(/\b(SET|ADD|REMOVE|DELETE)\b/);
  if (pieces[0]?.trim() !== '') throw new Error(`update expression does not start with a clause: "${expression}"`);
  const clauses: { keyword: string; parts: string[] }[] = [];
  for (let p = 1; p < pieces.length; p += 2) {
    clauses.push({ keyword: pieces[p] as string, parts: (pieces[p + 1] ?? '').split(',').map((s) => s.trim()) });
  }
  return clauses;
}

function applyUpdate(item: Item, expression: string, names: Names, values: Values): void {
  for (const { keyword, parts } of clausesOf(expression)) {
    for (const part of parts) {
      if (keyword === 'SET') {
        const m = /^([#\w]+)\s*=\s*(:\w+)$/.exec(part);
        if (!m) throw new Error(`the in-memory table does not know SET ${part}`);
        item[attributeName(m[1] as string, names)] = structuredClone(attributeValue(m[2] as string, values));
      } else if (keyword === 'ADD') {
        const m = /^([#\w]+)\s+(:\w+)$/.exec(part);
        const value = m ? attributeValue(m[2] as string, values) : undefined;
        const name = m ? attributeName(m[1] as string, names) : '';
        if (value instanceof Set) item[name] = new Set([...((item[name] as Set<unknown> | undefined) ?? []), ...value]);
        else if (typeof value === 'number') item[name] = Number(item[name] ?? 0) + value;
        else throw new Error(`the in-memory table does not know ADD ${part}`);
      } else if (keyword === 'REMOVE') {
        if (!/^[#\w]+$/.test(part)) throw new Error(`the in-memory table does not know REMOVE ${part}`);
        delete item[attributeName(part, names)];
      } else {
        throw new Error(`the in-memory table does not know ${keyword}`);
      }
    }
  }
}

const serviceError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $fault: 'client' as const, $metadata: { httpStatusCode: 400 } });

/** A cancelled transaction as the SDK throws it: one reason per action, in order. */
function cancelled(codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

/** TransactWriteItems on the in-memory table, as DynamoDB does it. */
function commit(input: TransactWriteCommandInput): object {
  const actions = input.TransactItems ?? [];
  const request = JSON.stringify(actions);
  const token = input.ClientRequestToken;
  if (token !== undefined && committed.has(token)) {
    if (committed.get(token) !== request) {
      throw new IdempotentParameterMismatchException({ message: 'token reused with other parameters', $metadata: { httpStatusCode: 400 } });
    }
    return {}; // the same request again: answered, not applied again
  }
  if (actions.length === 0 || actions.length > 100)
    throw serviceError('ValidationException', `${actions.length} actions in one transaction`);
  const writes = actions.map((action) => {
    const { Update, Put, Delete, ConditionCheck } = action;
    const op = Update ?? Put ?? Delete ?? ConditionCheck;
    if (!op || op.TableName !== TABLE) throw new Error(`unexpected action ${JSON.stringify(action)}`);
    const key = (Put ? { pk: Put.Item?.pk, sk: Put.Item?.sk } : (op as { Key: Item }).Key) as Key;
    const holds = () =>
      !op.ConditionExpression ||
      conditionHolds(op.ConditionExpression, get(key), op.ExpressionAttributeNames, op.ExpressionAttributeValues);
    const apply = () => {
      if (Put) put(Put.Item as Item);
      else if (Delete) table.delete(keyOf(key));
      else if (Update) {
        const item = get(key) ?? { ...key };
        applyUpdate(item, Update.UpdateExpression as string, Update.ExpressionAttributeNames, Update.ExpressionAttributeValues);
        table.set(keyOf(key), item);
      }
    };
    return { key, holds, apply };
  });
  if (new Set(writes.map((w) => keyOf(w.key))).size !== writes.length) {
    throw serviceError('ValidationException', 'Transaction request cannot include multiple operations on one item');
  }
  const reasons = writes.map((w) => (w.holds() ? 'None' : 'ConditionalCheckFailed'));
  if (reasons.includes('ConditionalCheckFailed')) throw cancelled(reasons);
  for (const w of writes) w.apply();
  if (token !== undefined) committed.set(token, request);
  return {};
}

/** UpdateItem on the in-memory table, as DynamoDB does it (ReturnValues NONE or ALL_NEW). */
function updateItem(input: UpdateCommandInput): object {
  if (input.TableName !== TABLE) throw new Error(`UpdateItem on an unexpected table: ${input.TableName}`);
  const key = input.Key as Key;
  const old = get(key);
  if (
    input.ConditionExpression &&
    !conditionHolds(input.ConditionExpression, old, input.ExpressionAttributeNames, input.ExpressionAttributeValues)
  ) {
    throw new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: { httpStatusCode: 400 },
      // The document client does not unmarshall errors: the old item arrives as attribute values.
      ...(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old ? { Item: marshall(old) } : {}),
    });
  }
  const item = old ? structuredClone(old) : { ...key };
  applyUpdate(item, input.UpdateExpression as string, input.ExpressionAttributeNames, input.ExpressionAttributeValues);
  table.set(keyOf(key), item);
  if (input.ReturnValues === 'ALL_NEW') return { Attributes: structuredClone(item) };
  if (input.ReturnValues === 'UPDATED_NEW') {
    const updated = clausesOf(input.UpdateExpression as string)
      .filter((c) => c.keyword !== 'REMOVE')
      .flatMap((c) => c.parts.map((part) => attributeName(part.split(/[\s=]/)[0] as string, input.ExpressionAttributeNames)));
    return { Attributes: structuredClone(Object.fromEntries(updated.filter((n) => n in item).map((n) => [n, item[n]]))) };
  }
  if (input.ReturnValues !== undefined && input.ReturnValues !== 'NONE')
    throw new Error(`the in-memory table does not return ${input.ReturnValues}`);
  return {};
}

/** A transaction cancelled by contention on its first item: nothing is applied. */
const conflict = (input: TransactWriteCommandInput): never => {
  throw cancelled((input.TransactItems ?? []).map((_, i) => (i === 0 ? 'TransactionConflict' : 'None')));
};

// ---------------------------------------------------------------------------------------------
// Inspecting what was sent
// ---------------------------------------------------------------------------------------------

const sent = () => ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input);
const actionsOf = (input: TransactWriteCommandInput) => input.TransactItems ?? [];
const tokens = () => sent().map((t) => t.ClientRequestToken);
const keyOfAction = (a: TransactAction) => keyOf((a.Put?.Item ?? a.Update?.Key ?? a.Delete?.Key ?? a.ConditionCheck?.Key) as Item);
/** The member indexes a transaction changes. */
const membersIn = (input: TransactWriteCommandInput) =>
  actionsOf(input).flatMap((a) =>
    a.Update && String(a.Update.Key?.sk).startsWith('M#') ? [Number(String(a.Update.Key?.sk).slice(2))] : [],
  );

/** The ADD deltas of every Update in a transaction, by item key. */
function addsIn(input: TransactWriteCommandInput): Map<string, Record<string, number>> {
  const adds = new Map<string, Record<string, number>>();
  for (const a of actionsOf(input)) {
    if (!a.Update) continue;
    const added: Record<string, number> = {};
    for (const { keyword, parts } of clausesOf(a.Update.UpdateExpression as string)) {
      if (keyword !== 'ADD') continue;
      for (const part of parts) {
        const [name, value] = part.split(/\s+/) as [string, string];
        added[attributeName(name, a.Update.ExpressionAttributeNames)] = attributeValue(value, a.Update.ExpressionAttributeValues) as number;
      }
    }
    if (Object.keys(added).length > 0) adds.set(keyOf(a.Update.Key as Item), added);
  }
  return adds;
}

const customerShardKeys = (c: number) => Array.from({ length: CUSTOMER_COUNTER_SHARDS }, (_, k) => keyOf(keys.customerCounters(c, k)));
const batchShardKeys = (c: number, b: number) => Array.from({ length: BATCH_COUNTER_SHARDS }, (_, k) => keyOf(keys.batchCounters(c, b, k)));

/** Asserts the transaction's counter deltas went to exactly one shard of each listed customer and batch. */
function expectOneShardEach(input: TransactWriteCommandInput, customers: number[], batches: { c: number; b: number }[]) {
  const written = [...addsIn(input).keys()];
  for (const c of customers) expect(written.filter((k) => customerShardKeys(c).includes(k))).toHaveLength(1);
  for (const { c, b } of batches) expect(written.filter((k) => batchShardKeys(c, b).includes(k))).toHaveLength(1);
  // No counter delta anywhere else: not on a head, not on a shard beyond BATCH_COUNTER_SHARDS.
  const allowed = new Set([...customers.flatMap(customerShardKeys), ...batches.flatMap(({ c, b }) => batchShardKeys(c, b))]);
  expect(written.filter((k) => !allowed.has(k))).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: customer 7 with a started batch 3 of three waiting members, counted on 4 shards.
// A customer's head holds only the id sequence and admission (`admitted`); its counters, and the
// members `released` from admission, are in its shards.
// ---------------------------------------------------------------------------------------------

const STARTED = '2026-01-01T00:00:05.000Z';

const memberOf = (customer: number, batch: number, index: number, overrides: Partial<MemberRecord> = {}) =>
  aMember({ customer, batch, index, id: `img-${customer}-${batch}-${index}`, origin: `https://example.org/${index}.png`, ...overrides });

function seedBatch(batch: BatchRecord) {
  put({ ...keys.batch(batch.customer, batch.batch), type: 'batch', ...batch });
}
const seedMember = (m: MemberRecord) => put(memberItem(m));
const seedCustomer = (customer: number, head: { batchSeq: number; admitted: number } & Item) =>
  put({ ...keys.customer(customer), type: 'customer', customer, ...head });
const seedCustomerShard = (customer: number, shard: number, fields: Record<string, number>) =>
  put({ ...keys.customerCounters(customer, shard), type: 'customerCounters', customer, shard, ...fields });
/** What admission takes as the queue's size: members admitted on the head minus those released on the shards. */
const admissionSize = (customer: number) =>
  Number(get(keys.customer(customer))?.admitted ?? 0) -
  customerShardKeys(customer).reduce((sum, k) => sum + Number(table.get(k)?.released ?? 0), 0);

const completion = (m: MemberRecord): Transition => ({
  member: m,
  to: 'completed',
  outcome: { width: 10, height: 20, mediaType: 'image/png', contentLength: 100 },
});

beforeAll(() => {
  process.env.TABLE_NAME = TABLE;
  process.env.AWS_REGION = 'us-east-1';
  resetClients();
});

afterAll(() => {
  ddb.restore();
  resetClients();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

beforeEach(() => {
  ddb.reset();
  table = new Map();
  committed = new Map();
  // Customer 7: batch 3 (3 members, enqueued and started) admitted on the head, counted on shard 0.
  seedCustomer(7, { batchSeq: 3, admitted: 3 });
  seedCustomerShard(7, 0, { size: 3, waitingMain: 3, batchCount: 1, batchesWaiting: 0 });
  seedBatch(aBatch({ customer: 7, batch: 3, count: 3, remaining: 3, waiting: 3, current: 3, started: STARTED }));
  for (const i of [0, 1, 2]) seedMember(memberOf(7, 3, i));

  ddb.onAnyCommand().callsFake((input: unknown) => {
    throw new Error(`unexpected command: ${JSON.stringify(input)}`);
  });
  ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Key[] }> }) => {
    const request = input.RequestItems[TABLE];
    if (!request) throw new Error(`BatchGet on an unexpected table: ${Object.keys(input.RequestItems).join(', ')}`);
    if (request.Keys.length > 100 || new Set(request.Keys.map(keyOf)).size !== request.Keys.length) {
      throw serviceError('ValidationException', 'BatchGetItem takes at most 100 distinct keys');
    }
    return {
      Responses: { [TABLE]: request.Keys.flatMap((k) => (table.has(keyOf(k)) ? [structuredClone(get(k))] : [])) },
      UnprocessedKeys: {},
    };
  });
  ddb.on(GetCommand).callsFake((input: { Key: Key }) => {
    const item = get(input.Key);
    return item ? { Item: structuredClone(item) } : {};
  });
  ddb.on(UpdateCommand).callsFake(updateItem);
  // Counter shards are read with one Query on their shared partition key.
  ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
    if (input.KeyConditionExpression !== 'pk = :pk' || input.IndexName) throw new Error(`unexpected query: ${JSON.stringify(input)}`);
    const pk = input.ExpressionAttributeValues?.[':pk'];
    const items = [...table.values()].filter((i) => i.pk === pk).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
    return { Items: items.map((i) => structuredClone(i)) };
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  // Every transaction carries a ClientRequestToken DynamoDB accepts (at most 36 characters).
  for (const token of tokens()) expect(token).toMatch(/^[\w-]{1,36}$/);
});

// ---------------------------------------------------------------------------------------------

describe('runTransaction', () => {
  /** Adds 1 to attribute n of a test item: applying it twice would show. */
  const increment = (name: string): TransactAction => ({
    Update: {
      TableName: TABLE,
      Key: { pk: 'TEST', sk: name },
      UpdateExpression: 'ADD #n :one',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':one': 1 },
    },
  });
  const counter = (name: string) => get({ pk: 'TEST', sk: name })?.n;

  it('repeats an unknown-outcome attempt with the same token and actions, so a write applied before the error counts once', async () => {
    // Arrange: the write is applied, then the SDK gives up on a 500 and throws.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        commit(input);
        throw new InternalServerError({ message: 'Internal server error', $metadata: { httpStatusCode: 500 } });
      })
      .callsFake(commit);
    const build = jest.fn(() => [increment('a')]);
    // Act
    const outcome = await runTransaction(build);
    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(build).toHaveBeenCalledTimes(1);
    const [first, second] = sent();
    expect(sent()).toHaveLength(2);
    expect(second?.ClientRequestToken).toBe(first?.ClientRequestToken);
    expect(second?.TransactItems).toEqual(first?.TransactItems);
    expect(counter('a')).toBe(1);
  });

  it('repeats an attempt whose connection dropped (no HTTP status) with the same token', async () => {
    // Arrange: a network error, nothing applied.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce(() => {
        throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
      })
      .callsFake(commit);
    // Act
    const outcome = await runTransaction(() => [increment('a')]);
    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(new Set(tokens()).size).toBe(1);
    expect(counter('a')).toBe(1);
  });

  it('retries a TransactionConflictException thrown for the request with rebuilt actions and a new token', async () => {
    // Arrange
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: { httpStatusCode: 400 } }))
      .callsFake(commit);
    const build = jest.fn(() => [increment('a')]);
    // Act
    const outcome = await runTransaction(build);
    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(build).toHaveBeenCalledTimes(2);
    expect(sent()).toHaveLength(2);
    expect(new Set(tokens()).size).toBe(2);
    expect(counter('a')).toBe(1);
  });

  it.each(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'])(
    'retries a transaction cancelled with reason %s, with a new token',
    async (code) => {
      // Arrange
      ddb
        .on(TransactWriteCommand)
        .callsFakeOnce((input: TransactWriteCommandInput) => {
          throw cancelled(actionsOf(input).map((_, i) => (i === 1 ? code : 'None')));
        })
        .callsFake(commit);
      // Act
      const outcome = await runTransaction(() => [increment('a'), increment('b')]);
      // Assess
      expect(outcome).toEqual({ ok: true });
      expect(new Set(tokens()).size).toBe(2);
      expect([counter('a'), counter('b')]).toEqual([1, 1]);
    },
  );

  it('returns a cancellation by a failed condition with the failed action indexes, without retrying', async () => {
    // Arrange: the second action is conditioned on an item that does not exist.
    ddb.on(TransactWriteCommand).callsFake(commit);
    const missing: TransactAction = { Update: { ...increment('b').Update!, ConditionExpression: 'attribute_exists(pk)' } };
    const build = jest.fn(() => [increment('a'), missing]);
    // Act
    const outcome = await runTransaction(build);
    // Assess
    expect(outcome).toEqual({ ok: false, conditionFailed: [1], conflict: false });
    expect(build).toHaveBeenCalledTimes(1);
    expect(sent()).toHaveLength(1);
    expect(counter('a')).toBeUndefined();
  });

  it('returns a conflict at once when retryConflicts is false', async () => {
    // Arrange
    ddb.on(TransactWriteCommand).callsFake(conflict);
    const build = jest.fn(() => [increment('a')]);
    // Act
    const outcome = await runTransaction(build, { retryConflicts: false });
    // Assess
    expect(outcome).toEqual({ ok: false, conditionFailed: [], conflict: true });
    expect(build).toHaveBeenCalledTimes(1);
    expect(sent()).toHaveLength(1);
  });

  it('throws a cancellation for a reason that is neither contention nor a condition, without retrying it', async () => {
    // Arrange: one action is invalid (e.g. an item grown past 400 KB).
    ddb.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
      throw cancelled(actionsOf(input).map((_, i) => (i === 1 ? 'ValidationError' : 'None')));
    });
    // Act
    const running = runTransaction(() => [increment('a'), increment('b')]);
    // Assess
    await expect(running).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(sent()).toHaveLength(1);
  });

  it('throws a request DynamoDB refused (ValidationException) without retrying it', async () => {
    // Arrange: two actions on one item, which DynamoDB refuses.
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const running = runTransaction(() => [increment('a'), increment('a')]);
    // Assess
    await expect(running).rejects.toMatchObject({ name: 'ValidationException' });
    expect(sent()).toHaveLength(1);
  });

  // TransactionInProgressException means "a transaction with this token is still being processed"
  // (the SDK's own retry of a timed-out attempt reuses the token): it must be repeated with the same
  // token, never rebuilt with a new one, or both could commit.
  it('repeats an attempt answered TransactionInProgressException with the same token, so it commits once', async () => {
    // Arrange: the first attempt is still in flight when the answer comes; it commits meanwhile.
    let inFlight: TransactWriteCommandInput | undefined;
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        inFlight = input;
        throw new TransactionInProgressException({ message: 'Transaction is in progress', $metadata: { httpStatusCode: 400 } });
      })
      .callsFake((input: TransactWriteCommandInput) => {
        if (inFlight) commit(inFlight);
        inFlight = undefined;
        return commit(input);
      });
    // Act
    const outcome = await runTransaction(() => [increment('a')]);
    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(new Set(tokens()).size).toBe(1);
    expect(counter('a')).toBe(1);
  });
});

describe('applyTransitions', () => {
  it('retries a grouped transaction cancelled by a TransactionConflict with a new token and applies every transition once', async () => {
    // Arrange: the grouped transaction (3 members + 1 batch shard + 1 customer shard) conflicts once.
    ddb.on(TransactWriteCommand).callsFakeOnce(conflict).callsFake(commit);
    const transitions = [0, 1, 2].map((i) => completion(memberOf(7, 3, i)));
    // Act
    const result = await applyTransitions(transitions);
    // Assess
    expect(result.skipped).toEqual([]);
    expect(result.applied.map((t) => t.member.index).sort()).toEqual([0, 1, 2]);
    const [cancelledOne, retried] = sent();
    expect(sent()).toHaveLength(2);
    // Contention is not a stale member: the group is retried whole, with a token of its own.
    expect(membersIn(cancelledOne!)).toEqual([0, 1, 2]);
    expect(membersIn(retried!)).toEqual([0, 1, 2]);
    expect(cancelledOne?.ClientRequestToken).toEqual(expect.any(String));
    expect(retried?.ClientRequestToken).toEqual(expect.any(String));
    expect(retried?.ClientRequestToken).not.toBe(cancelledOne?.ClientRequestToken);
    for (const t of sent()) expectOneShardEach(t, [7], [{ c: 7, b: 3 }]);
    // Counted once: the cancelled attempt applied nothing.
    expect(await dynamoQueueStore.getBatch(7, 3, true)).toMatchObject({ completed: 3, remaining: 0, waiting: 0, errors: 0 });
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({ size: 0, waiting: { main: 0, priority: 0 } });
    // The finished members left admission too.
    expect(admissionSize(7)).toBe(0);
    for (const i of [0, 1, 2])
      expect(get(keys.member(7, 3, i))).toMatchObject({ state: 'completed', width: 10, finished: expect.any(String) });
  });

  it('puts counter deltas on one shard per customer and per batch, never on a head except to start a batch', async () => {
    // Arrange: batch 7/3 (started), batch 7/4 (not started), batch 9/1 (started). Random shard picks
    // land on the last shard.
    seedBatch(aBatch({ customer: 7, batch: 4, count: 2, remaining: 2, waiting: 2, current: 2 }));
    for (const i of [0, 1]) seedMember(memberOf(7, 4, i));
    seedCustomer(7, { batchSeq: 4, admitted: 5 });
    seedCustomerShard(7, 0, { size: 5, waitingMain: 5, batchCount: 2, batchesWaiting: 1 });
    seedCustomer(9, { batchSeq: 1, admitted: 1 });
    seedCustomerShard(9, 0, { size: 1, runningMain: 1, batchCount: 1 });
    seedBatch(aBatch({ customer: 9, batch: 1, count: 1, remaining: 1, waiting: 0, current: 1, started: STARTED }));
    seedMember(memberOf(9, 1, 0, { state: 'running' }));
    ddb.on(TransactWriteCommand).callsFake(commit);
    jest.spyOn(Math, 'random').mockReturnValue(0.999999);
    const transitions: Transition[] = [
      completion(memberOf(7, 3, 0)),
      { member: memberOf(7, 3, 1), to: 'error', outcome: { error: 'bad image' } },
      { member: memberOf(7, 4, 0), to: 'running' },
      completion(memberOf(7, 4, 1)),
      { member: memberOf(9, 1, 0, { state: 'running' }), to: 'error', outcome: { error: 'bad image' } },
    ];
    // Act
    const result = await applyTransitions(transitions);
    // Assess
    expect(result.applied).toHaveLength(5);
    const [only] = sent();
    expect(sent()).toHaveLength(1);
    const written = actionsOf(only!).map(keyOfAction);
    expect(written).not.toContain(keyOf(keys.customer(7)));
    expect(written).not.toContain(keyOf(keys.customer(9)));
    expect(written).not.toContain(keyOf(keys.batch(7, 3)));
    expect(written).not.toContain(keyOf(keys.batch(9, 1)));
    // Batch 7/4's head is written only to start it: no counter on it.
    const start = actionsOf(only!).find((a) => keyOfAction(a) === keyOf(keys.batch(7, 4)))?.Update;
    expect(start?.UpdateExpression).toMatch(/^SET started = :now/);
    expect(start?.UpdateExpression).not.toMatch(/\bADD\b/);
    expectOneShardEach(
      only!,
      [7, 9],
      [
        { c: 7, b: 3 },
        { c: 7, b: 4 },
        { c: 9, b: 1 },
      ],
    );
    expect(Object.fromEntries(addsIn(only!))).toEqual({
      [keyOf(keys.batchCounters(7, 3, BATCH_COUNTER_SHARDS - 1))]: { waiting: -2, remaining: -2, completed: 1, errors: 1 },
      [keyOf(keys.batchCounters(7, 4, BATCH_COUNTER_SHARDS - 1))]: { waiting: -2, remaining: -1, completed: 1 },
      [keyOf(keys.batchCounters(9, 1, BATCH_COUNTER_SHARDS - 1))]: { remaining: -1, errors: 1 },
      [keyOf(keys.customerCounters(7, CUSTOMER_COUNTER_SHARDS - 1))]: {
        size: -3,
        released: 3,
        batchesWaiting: -1,
        waitingMain: -4,
        runningMain: 1,
      },
      [keyOf(keys.customerCounters(9, CUSTOMER_COUNTER_SHARDS - 1))]: { size: -1, released: 1, runningMain: -1 },
    });
    // The reader sums what was written.
    expect(await dynamoQueueStore.getBatch(7, 4, true)).toMatchObject({
      started: expect.any(String),
      remaining: 1,
      waiting: 0,
      completed: 1,
    });
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({ size: 2, batchesWaiting: 0, waiting: { main: 1 }, running: { main: 1 } });
    expect(await dynamoQueueStore.getCustomer(9)).toMatchObject({ size: 0, running: { main: 0 } });
    expect([admissionSize(7), admissionSize(9)]).toEqual([2, 0]);
  });

  it('re-reads after a condition failure, skips the member another delivery finished, applies the rest one per transaction', async () => {
    // Arrange: while this delivery works, another delivery of member 1 completes it (with its deltas).
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        seedMember(memberOf(7, 3, 1, { state: 'completed', width: 1, height: 1 }));
        addTo(keys.batchCounters(7, 3, 0), { customer: 7, batch: 3, shard: 0 }, { completed: 1, remaining: -1, waiting: -1 });
        addTo(keys.customerCounters(7, 1), { customer: 7, shard: 1 }, { size: -1, released: 1, waitingMain: -1 });
        return commit(input);
      })
      .callsFake(commit);
    const transitions = [0, 1, 2].map((i) => completion(memberOf(7, 3, i)));
    // Act
    const result = await applyTransitions(transitions);
    // Assess
    expect(result.applied.map((t) => t.member.index).sort()).toEqual([0, 2]);
    expect(result.skipped).toEqual([expect.objectContaining({ customer: 7, batch: 3, index: 1, state: 'completed' })]);
    expect(sent().map(membersIn)).toEqual([[0, 1, 2], [0], [2]]);
    // The members were read again after the cancelled transaction.
    const reads = ddb
      .commandCalls(BatchGetCommand)
      .map((c) => (c.args[0].input.RequestItems?.[TABLE]?.Keys ?? []).map((k) => String(k.sk)));
    expect(reads.some((sks) => sks.includes(keys.member(7, 3, 1).sk))).toBe(true);
    // Each retried transaction carries the deltas of its one member, conditioned on the state it read.
    for (const t of sent().slice(1)) {
      expect(actionsOf(t)[0]?.Update).toMatchObject({
        ConditionExpression: '#state = :from',
        ExpressionAttributeValues: expect.objectContaining({ ':from': 'waiting' }),
      });
      const adds = [...addsIn(t).values()];
      expect(adds).toEqual(
        expect.arrayContaining([
          { waiting: -1, remaining: -1, completed: 1 },
          { size: -1, released: 1, waitingMain: -1 },
        ]),
      );
      expectOneShardEach(t, [7], [{ c: 7, b: 3 }]);
    }
    // Every member counted exactly once, whoever finished it.
    expect(await dynamoQueueStore.getBatch(7, 3, true)).toMatchObject({ completed: 3, remaining: 0, waiting: 0 });
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({ size: 0, waiting: { main: 0 } });
    expect(admissionSize(7)).toBe(0);
    expect(get(keys.member(7, 3, 1))).toMatchObject({ width: 1 });
  });

  it('re-reads a member the same delivery marked running meanwhile and moves it on from running', async () => {
    // Arrange: the slow-ingest timer recorded member 0 as running just before this transaction.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        seedMember(memberOf(7, 3, 0, { state: 'running' }));
        addTo(keys.batchCounters(7, 3, 1), { customer: 7, batch: 3, shard: 1 }, { waiting: -1 });
        addTo(keys.customerCounters(7, 2), { customer: 7, shard: 2 }, { waitingMain: -1, runningMain: 1 });
        return commit(input);
      })
      .callsFake(commit);
    // Act
    const result = await applyTransitions([completion(memberOf(7, 3, 0))]);
    // Assess
    expect(result.applied.map((t) => t.member.state)).toEqual(['running']);
    const retried = sent()[1]!;
    expect(actionsOf(retried)[0]?.Update?.ExpressionAttributeValues?.[':from']).toBe('running');
    expect([...addsIn(retried).values()]).toEqual(
      expect.arrayContaining([
        { remaining: -1, completed: 1 },
        { size: -1, released: 1, runningMain: -1 },
      ]),
    );
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({ size: 2, waiting: { main: 2 }, running: { main: 0 } });
  });

  it('does not start a batch twice when another delivery started it meanwhile', async () => {
    // Arrange: batch 7/4 is not started when read; another delivery starts it before this transaction.
    seedCustomer(7, { batchSeq: 4, admitted: 5 });
    seedCustomerShard(7, 0, { size: 5, waitingMain: 5, batchCount: 2, batchesWaiting: 1 });
    seedBatch(aBatch({ customer: 7, batch: 4, count: 2, remaining: 2, waiting: 2, current: 2 }));
    for (const i of [0, 1]) seedMember(memberOf(7, 4, i));
    const otherStart = '2026-01-01T00:00:09.000Z';
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        put({ ...get(keys.batch(7, 4)), started: otherStart });
        addTo(keys.customerCounters(7, 3), { customer: 7, shard: 3 }, { batchesWaiting: -1 });
        return commit(input);
      })
      .callsFake(commit);
    // Act
    const result = await applyTransitions([0, 1].map((i) => completion(memberOf(7, 4, i))));
    // Assess
    expect(result.applied).toHaveLength(2);
    expect(sent().map(membersIn)).toEqual([[0, 1], [0], [1]]);
    for (const t of sent().slice(1)) expect(actionsOf(t).map(keyOfAction)).not.toContain(keyOf(keys.batch(7, 4)));
    expect(get(keys.batch(7, 4))?.started).toBe(otherStart);
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({ batchesWaiting: 0, size: 3 });
    expect(await dynamoQueueStore.getBatch(7, 4, true)).toMatchObject({ completed: 2, remaining: 0, waiting: 0 });
  });
});

describe('createBatch', () => {
  const newBatch = (count: number) => ({ customer: 7, queue: 'main' as const, count, submitted: '2026-01-02T00:00:00.000Z' });
  const allocations = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
  const batchPut = (t: TransactWriteCommandInput) => actionsOf(t).find((a) => a.Put?.Item?.type === 'batch')?.Put;
  const headUntouchedByTransactions = () => expect(sent().flatMap(actionsOf).map(keyOfAction)).not.toContain(keyOf(keys.customer(7)));

  it('admits a batch the head alone would refuse when the shards released finished members', async () => {
    // Arrange: 90 admitted, 50 of them finished (released on two shards); limit 100, 20 more.
    seedCustomer(7, { batchSeq: 6, admitted: 90 });
    seedCustomerShard(7, 0, { size: 40, waitingMain: 40, batchCount: 6, released: 30 });
    seedCustomerShard(7, 5, { released: 20 });
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const result = await createBatch(newBatch(20), 100);
    // Assess
    expect(result).toEqual({ created: expect.objectContaining({ customer: 7, batch: 7, count: 20, remaining: 20, enqueueing: true }) });
    // Against the head alone: 90 ≤ 100 − 20 fails; with the shards' releases: 90 ≤ 100 − 20 + 50.
    expect(allocations().map((a) => a.ExpressionAttributeValues?.[':limit'])).toEqual([80, 130]);
    expect(get(keys.customer(7))).toMatchObject({ admitted: 110, batchSeq: 7 });
    expect(sent()).toHaveLength(1);
    expect(batchPut(sent()[0]!)?.Item).toMatchObject({ ...keys.batch(7, 7), count: 20 });
    expectOneShardEach(sent()[0]!, [7], []);
    headUntouchedByTransactions();
    expect(await dynamoQueueStore.getCustomer(7)).toMatchObject({
      size: 60,
      batchCount: 7,
      batchSeq: 7,
      waiting: { main: 60 },
      pending: { main: 20 },
    });
    expect(admissionSize(7)).toBe(60);
  });

  it.each([
    { relief: 'shards releasing 5', released: [5], size: 85 },
    { relief: 'no shard', released: [], size: 90 },
  ])('answers queueFull with the true size and writes nothing with $relief', async ({ released, size }) => {
    // Arrange: 90 admitted, limit 100, 20 more.
    seedCustomer(7, { batchSeq: 6, admitted: 90 });
    table.delete(keyOf(keys.customerCounters(7, 0)));
    for (const [k, r] of released.entries()) seedCustomerShard(7, k, { released: r, size: -r });
    ddb.on(TransactWriteCommand).callsFake(commit);
    const before = structuredClone([...table]);
    // Act
    const result = await createBatch(newBatch(20), 100);
    // Assess
    expect(result).toEqual({ queueFull: { size, limit: 100 } });
    expect(sent()).toHaveLength(0);
    expect([...table]).toEqual(before);
  });

  it('answers queueFull without any call when one batch is larger than the whole queue may be', async () => {
    // Act
    const result = await createBatch(newBatch(101), 100);
    // Assess
    expect(result).toEqual({ queueFull: { size: 0, limit: 100 } });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('admits exactly one of two concurrent submits when only one fits, and tells the other the size with the first', async () => {
    // Arrange: 90 admitted, limit 100; two submits of 8 at once.
    seedCustomer(7, { batchSeq: 6, admitted: 90 });
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const results = await Promise.all([createBatch(newBatch(8), 100), createBatch(newBatch(8), 100)]);
    // Assess
    expect(results).toEqual(
      expect.arrayContaining([{ created: expect.objectContaining({ batch: 7, count: 8 }) }, { queueFull: { size: 98, limit: 100 } }]),
    );
    expect(get(keys.customer(7))).toMatchObject({ admitted: 98, batchSeq: 7 });
    expect(get(keys.batch(7, 8))).toBeUndefined();
  });

  it('admits once when the SDK repeated an UpdateItem that had been applied, under a new id', async () => {
    // Arrange: the allocation is applied, its answer lost (a 500), and the SDK sends it again.
    seedCustomer(7, { batchSeq: 6, admitted: 10 });
    ddb
      .on(UpdateCommand)
      .callsFakeOnce((input: UpdateCommandInput) => {
        updateItem(input);
        return updateItem(input);
      })
      .callsFake(updateItem);
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const result = await createBatch(newBatch(250), 1000);
    // Assess: the repeat is refused; the first allocation (id 7) is given back and a new one made.
    expect(result).toEqual({ created: expect.objectContaining({ batch: 8, count: 250 }) });
    expect(allocations()).toHaveLength(2);
    expect(get(keys.customer(7))).toMatchObject({ batchSeq: 8, admitted: 510 });
    expect(admissionSize(7)).toBe(260);
    expect(batchPut(sent().at(-1)!)?.Item).toMatchObject({ ...keys.batch(7, 8), batch: 8 });
    expect(get(keys.batch(7, 8))).toMatchObject({ count: 250, enqueueing: true });
  });

  it('admits once when an applied allocation is repeated after another submit allocated in between', async () => {
    // Arrange: A's allocation is applied but its answer lost (a 500); B allocates; then the SDK
    // repeats A's request. A single "last token" attribute would now hold B's token and admit A twice.
    seedCustomer(7, { batchSeq: 6, admitted: 10 });
    let interleaved: Promise<unknown> | undefined;
    ddb
      .on(UpdateCommand)
      .callsFakeOnce(async (input: UpdateCommandInput) => {
        updateItem(input);
        interleaved = createBatch(newBatch(30), 1000);
        await interleaved;
        return updateItem(input);
      })
      .callsFake(updateItem);
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const first = await createBatch(newBatch(250), 1000);
    const second = await interleaved;
    // Assess: B took 8; A's first id (7) was given back and A allocated 9; admitted counts each once.
    expect(second).toEqual({ created: expect.objectContaining({ batch: 8, count: 30 }) });
    expect(first).toEqual({ created: expect.objectContaining({ batch: 9, count: 250 }) });
    expect(get(keys.customer(7))).toMatchObject({ batchSeq: 9, admitted: 10 + 250 + 30 + 250 });
    expect(admissionSize(7)).toBe(10 + 250 + 30);
    expect(get(keys.batch(7, 7))).toBeUndefined();
  });

  it('keeps a token for a whole period and empties the set of the period after', async () => {
    // Arrange
    seedCustomer(7, { batchSeq: 6, admitted: 10, allocations1: new Set(['stale']) });
    ddb.on(UpdateCommand).callsFake(updateItem);
    ddb.on(TransactWriteCommand).callsFake(commit);
    jest.spyOn(Date, 'now').mockReturnValue(ALLOCATION_TOKEN_PERIOD_MS * 3 + 5); // period 3: slot 0
    try {
      // Act
      await createBatch(newBatch(5), 1000);
    } finally {
      jest.restoreAllMocks();
    }
    // Assess
    const head = get(keys.customer(7)) as Item;
    expect([...(head.allocations0 as Set<string>)]).toHaveLength(1);
    expect(head.allocations1).toBeUndefined();
  });

  it('returns the batch of an Idempotency-Key a concurrent submit wrote first, and releases what it admitted', async () => {
    // Arrange: a concurrent submit with the same key took batch 7 (5 members) and writes the key
    // just before this submit's transaction.
    seedCustomer(7, { batchSeq: 7, admitted: 15 });
    seedCustomerShard(7, 0, { size: 10, waitingMain: 10, batchCount: 6 });
    seedBatch(aBatch({ customer: 7, batch: 7, count: 5 }));
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        seedCustomerShard(7, 1, { size: 5, waitingMain: 5, pendingMain: 5, batchCount: 1, batchesWaiting: 1 });
        put({ ...keys.idempotency(7, 'k1'), type: 'idempotency', batch: 7, hash: 'hash-first' });
        return commit(input);
      })
      .callsFake(commit);
    // Act
    const result = await createBatch({ ...newBatch(5), idempotency: { key: 'k1', hash: 'hash-second' } }, 100);
    // Assess: the stored batch and hash (the caller compares the hash with its own).
    expect(result).toEqual({ idempotent: { batch: 7, hash: 'hash-first' } });
    const [refused, release] = sent();
    expect(sent()).toHaveLength(2);
    expect(actionsOf(refused!)[2]?.Put).toMatchObject({
      Item: { ...keys.idempotency(7, 'k1'), batch: 8, hash: 'hash-second' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    // The 5 members admitted for batch 8 are given back; batch 8 was never written.
    expect([...addsIn(release!).values()]).toEqual([{ released: 5 }]);
    expect(get(keys.batch(7, 8))).toBeUndefined();
    expect(get(keys.customer(7))).toMatchObject({ batchSeq: 8, admitted: 20 });
    expect(admissionSize(7)).toBe(15);
    expect((await dynamoQueueStore.getCustomer(7))?.size).toBe(15);
    headUntouchedByTransactions();
  });
});

describe('supersede', () => {
  const refs = [0, 1, 2].map((index) => ({ customer: 7, batch: 3, index }));

  it('skips members already superseded and takes the others off `current` on one batch shard', async () => {
    // Arrange: member 0 was superseded by batch 5 earlier (and counted then).
    seedMember(memberOf(7, 3, 0, { supersededBy: 5 }));
    addTo(keys.batchCounters(7, 3, 0), { customer: 7, batch: 3, shard: 0 }, { current: -1 });
    ddb.on(TransactWriteCommand).callsFake(commit);
    // Act
    const changed = await supersede(refs, 9);
    // Assess
    expect(changed).toBe(2);
    const [only] = sent();
    expect(sent()).toHaveLength(1);
    expect(membersIn(only!)).toEqual([1, 2]);
    expect(actionsOf(only!).map(keyOfAction)).not.toContain(keyOf(keys.batch(7, 3)));
    const adds = addsIn(only!);
    expect([...adds.values()]).toEqual([{ current: -2 }]);
    expect(batchShardKeys(7, 3)).toContain([...adds.keys()][0]);
    expect(get(keys.member(7, 3, 0))?.supersededBy).toBe(5);
    expect([1, 2].map((i) => get(keys.member(7, 3, i))?.supersededBy)).toEqual([9, 9]);
    expect((await dynamoQueueStore.getBatch(7, 3, true))?.current).toBe(0);
  });

  it('goes member by member when one was superseded concurrently, counting only those it marked', async () => {
    // Arrange: batch 8 supersedes member 2 while this transaction is on its way.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce((input: TransactWriteCommandInput) => {
        seedMember(memberOf(7, 3, 2, { supersededBy: 8 }));
        addTo(keys.batchCounters(7, 3, 2), { customer: 7, batch: 3, shard: 2 }, { current: -1 });
        return commit(input);
      })
      .callsFake(commit);
    // Act
    const changed = await supersede(refs, 9);
    // Assess
    expect(changed).toBe(2);
    expect(sent().map(membersIn)).toEqual([[0, 1, 2], [0], [1], [2]]);
    for (const t of sent().slice(1)) expect([...addsIn(t).values()]).toEqual([{ current: -1 }]);
    expect([0, 1, 2].map((i) => get(keys.member(7, 3, i))?.supersededBy)).toEqual([9, 9, 8]);
    expect((await dynamoQueueStore.getBatch(7, 3, true))?.current).toBe(0);
  });
});

describe('getBatch', () => {
  /** Batch 3 finished: 2 members completed and 1 failed, each result on a shard of its own. */
  function seedFinished(): void {
    seedBatch(aBatch({ customer: 7, batch: 3, count: 3, remaining: 3, waiting: 3, current: 3, started: STARTED, finished: STARTED }));
    put({ ...keys.batchCounters(7, 3, 0), completed: 2, remaining: -2, waiting: -2 });
    put({ ...keys.batchCounters(7, 3, 1), errors: 1, remaining: -1, waiting: -1 });
  }
  /** Eventually consistent shard reads miss shard 1 (its write is not visible there yet); consistent ones see everything. */
  function lagShard1(): QueryCommandInput[] {
    const queries: QueryCommandInput[] = [];
    ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      queries.push(input);
      const pk = input.ExpressionAttributeValues?.[':pk'];
      const items = [...table.values()].filter((i) => i.pk === pk && (input.ConsistentRead || i.sk !== keys.batchCounters(7, 3, 1).sk));
      return { Items: items.map((i) => structuredClone(i)) };
    });
    return queries;
  }

  it('never shows a finished batch with counters short of its count: a lagging shard read is repeated, consistent', async () => {
    // Arrange
    seedFinished();
    const queries = lagShard1();
    // Act
    const batch = await dynamoQueueStore.getBatch(7, 3);
    // Assess
    expect(batch).toMatchObject({ finished: STARTED, count: 3, completed: 2, errors: 1, remaining: 0 });
    expect(queries.map((q) => Boolean(q.ConsistentRead))).toEqual([false, true]);
  });

  it('shows an unfinished batch as read, with one eventually consistent query', async () => {
    // Arrange: the same lag on a batch still running.
    seedFinished();
    put({ ...get(keys.batch(7, 3)), finished: undefined });
    const queries = lagShard1();
    // Act
    const batch = await dynamoQueueStore.getBatch(7, 3);
    // Assess
    expect(batch).toMatchObject({ completed: 2, errors: 0, remaining: 1 });
    expect(queries.map((q) => Boolean(q.ConsistentRead))).toEqual([false]);
  });
});
