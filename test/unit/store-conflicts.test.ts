/**
 * DynamoQueueStore's conflict paths, which DynamoDB Local never exercises (it does not return
 * TransactionConflict): a cancelled grouped transaction is retried member by member after a
 * re-read, members another delivery already finished are skipped, and admission failures of
 * createBatch answer queueFull. The document client is mocked with aws-sdk-client-mock over a tiny
 * in-memory table.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { resetClients } from '../../lambdas/adapters/aws-clients';
import { DynamoQueueStore } from '../../lambdas/adapters/dynamo-store';
import type { Transition } from '../../lambdas/domain/accounting';
import { keys, type BatchRecord, type MemberRecord } from '../../lambdas/domain/model';

const TABLE = 'store-conflicts-test';
const ddb = mockClient(DynamoDBDocumentClient);
const saved = { TABLE_NAME: process.env.TABLE_NAME, AWS_REGION: process.env.AWS_REGION };

/** The in-memory table the mocked BatchGet / Get read from, by `pk|sk`. */
let table: Map<string, Record<string, unknown>>;
const keyOf = (k: { pk: unknown; sk: unknown }) => `${String(k.pk)}|${String(k.sk)}`;

function put(item: Record<string, unknown> & { pk: string; sk: string }) {
  table.set(keyOf(item), item);
}

const SUBMITTED = '2024-05-01T10:00:00.000Z';

function batchRecord(overrides: Partial<BatchRecord> = {}): BatchRecord {
  return { customer: 7, batch: 3, queue: 'main', submitted: SUBMITTED, count: 3, completed: 0, errors: 0, remaining: 3, waiting: 3, current: 3, ...overrides };
}

function member(index: number, overrides: Partial<MemberRecord> = {}): MemberRecord {
  return { customer: 7, batch: 3, index, id: `img-${index}`, space: 1, origin: `https://example.org/${index}.png`, queue: 'main', state: 'waiting', submitted: SUBMITTED, ...overrides };
}

function completion(m: MemberRecord): Transition {
  return { member: m, to: 'completed', outcome: { width: 10, height: 20, mediaType: 'image/png', contentLength: 100 } };
}

/** A cancelled transaction as the SDK throws it: one reason per action, in order. */
function cancelled(codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

type Action = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
const transactions = () => ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems as Action[]);
/** The member indexes a transaction changes. */
const membersIn = (actions: Action[]) =>
  actions.flatMap((a) => (a.Update && String(a.Update.Key?.['sk']).startsWith('M#') ? [Number(String(a.Update.Key?.['sk']).slice(2))] : []));
const batchUpdateIn = (actions: Action[]) => actions.find((a) => a.Update?.Key?.['sk'] === keys.batch(7, 3).sk)?.Update;
const customerUpdateIn = (actions: Action[]) => actions.find((a) => a.Update?.Key?.['sk'] === 'QUEUE')?.Update;

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
  put({ ...keys.batch(7, 3), type: 'batch', ...batchRecord(), started: SUBMITTED });
  for (const i of [0, 1, 2]) put({ ...keys.member(7, 3, i), type: 'member', ...member(i) });
  ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { pk: string; sk: string }[] }> }) => {
    const request = input.RequestItems[TABLE];
    if (!request) throw new Error(`BatchGet on an unexpected table: ${Object.keys(input.RequestItems).join(', ')}`);
    return { Responses: { [TABLE]: request.Keys.flatMap((k) => (table.has(keyOf(k)) ? [{ ...table.get(keyOf(k)) }] : [])) }, UnprocessedKeys: {} };
  });
  ddb.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => {
    const item = table.get(keyOf(input.Key));
    return item ? { Item: { ...item } } : {};
  });
});

describe('applyTransitions', () => {
  it('retries a transaction cancelled by a TransactionConflict and applies every transition', async () => {
    // Arrange: the grouped transaction conflicts once (3 members + batch + customer = 5 actions).
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['None', 'TransactionConflict', 'None', 'None', 'None']))
      .resolves({});
    const transitions = [0, 1, 2].map((i) => completion(member(i)));
    // Act
    const result = await new DynamoQueueStore().applyTransitions(transitions);
    // Assess
    expect(result.skipped).toEqual([]);
    expect(result.applied.map((t) => t.member.index).sort()).toEqual([0, 1, 2]);
    const calls = transactions();
    expect(membersIn(calls[0] as Action[])).toEqual([0, 1, 2]);
    // After the conflict: re-read, then one member per transaction, each with its own deltas.
    expect(calls.slice(1).map(membersIn)).toEqual([[0], [1], [2]]);
    for (const actions of calls.slice(1)) {
      expect(batchUpdateIn(actions)?.ExpressionAttributeValues).toMatchObject({ ':completed': 1, ':remaining': -1, ':waiting': -1 });
      expect(customerUpdateIn(actions)?.ExpressionAttributeValues).toMatchObject({ ':size': -1, ':waitingMain': -1 });
    }
  });

  it('skips a member another delivery already completed (ConditionalCheckFailed) and applies the others one by one', async () => {
    // Arrange: member 1 is finished by a concurrent delivery; its condition fails in the grouped transaction.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce(() => {
        put({ ...keys.member(7, 3, 1), type: 'member', ...member(1, { state: 'completed', width: 1, height: 1 }) });
        throw cancelled(['None', 'ConditionalCheckFailed', 'None', 'None', 'None']);
      })
      .resolves({});
    const transitions = [0, 1, 2].map((i) => completion(member(i)));
    // Act
    const result = await new DynamoQueueStore().applyTransitions(transitions);
    // Assess
    expect(result.applied.map((t) => t.member.index).sort()).toEqual([0, 2]);
    expect(result.skipped).toEqual([expect.objectContaining({ index: 1, state: 'completed' })]);
    const calls = transactions();
    expect(calls).toHaveLength(3);
    expect(calls.slice(1).map(membersIn)).toEqual([[0], [2]]);
    // Nothing is counted for the skipped member: the retried transactions carry one member's deltas each.
    for (const actions of calls.slice(1)) {
      const memberUpdate = actions[0]?.Update;
      expect(memberUpdate?.ConditionExpression).toBe('#state = :from');
      expect(memberUpdate?.ExpressionAttributeValues?.[':from']).toBe('waiting');
      expect(batchUpdateIn(actions)?.ExpressionAttributeValues).toMatchObject({ ':completed': 1, ':remaining': -1 });
    }
    // The member was re-read (a BatchGet for its key after the failed transaction).
    const reads = ddb.commandCalls(BatchGetCommand).map((c) => (c.args[0].input.RequestItems?.[TABLE]?.Keys ?? []).map((k) => String(k['sk'])));
    expect(reads.some((skList) => skList.includes(keys.member(7, 3, 1).sk))).toBe(true);
  });

  it('re-reads a running member and moves it on from running, not waiting', async () => {
    // Arrange: member 0 was marked running by the slow-ingest timer of the same delivery meanwhile.
    ddb
      .on(TransactWriteCommand)
      .callsFakeOnce(() => {
        put({ ...keys.member(7, 3, 0), type: 'member', ...member(0, { state: 'running' }) });
        throw cancelled(['ConditionalCheckFailed', 'None', 'None']);
      })
      .resolves({});
    // Act
    const result = await new DynamoQueueStore().applyTransitions([completion(member(0))]);
    // Assess
    expect(result.applied).toHaveLength(1);
    const retried = transactions()[1] as Action[];
    expect(retried[0]?.Update?.ExpressionAttributeValues?.[':from']).toBe('running');
    expect(customerUpdateIn(retried)?.ExpressionAttributeValues).toMatchObject({ ':size': -1, ':runningMain': -1 });
    expect(customerUpdateIn(retried)?.ExpressionAttributeValues).not.toHaveProperty(':waitingMain');
  });
});

describe('createBatch', () => {
  const newBatch = { customer: 7, queue: 'main' as const, count: 5, submitted: SUBMITTED };

  it('answers queueFull when the admission condition fails in the transaction (a concurrent submit got there first)', async () => {
    // Arrange: the id allocation's condition sees room (90 + 5 ≤ 100), then a concurrent submit fills the queue.
    put({ ...keys.customer(7), type: 'customer', customer: 7, size: 90, batchSeq: 6 });
    ddb.on(UpdateCommand).resolves({ Attributes: { batchSeq: 7 } });
    ddb.on(TransactWriteCommand).callsFake(() => {
      put({ ...keys.customer(7), type: 'customer', customer: 7, size: 98, batchSeq: 7 });
      throw cancelled(['ConditionalCheckFailed', 'None']);
    });
    // Act
    const result = await new DynamoQueueStore().createBatch(newBatch, 100);
    // Assess
    expect(result).toEqual({ queueFull: { size: 98, limit: 100 } });
    const [actions] = transactions();
    expect(actions?.[0]?.Update?.ConditionExpression).toBe('attribute_not_exists(#size) OR #size <= :limit');
    expect(actions?.[0]?.Update?.ExpressionAttributeValues).toMatchObject({ ':limit': 95, ':n': 5 });
  });

  it('answers queueFull without writing when the stored size already leaves no room', async () => {
    // Arrange: the conditional id allocation fails, so nothing is written at all.
    ddb.on(UpdateCommand).rejects(
      new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item: { size: { N: '97' } } }),
    );
    // Act
    const result = await new DynamoQueueStore().createBatch(newBatch, 100);
    // Assess
    expect(result).toEqual({ queueFull: { size: 97, limit: 100 } });
    const [allocation] = ddb.commandCalls(UpdateCommand);
    expect(allocation?.args[0].input).toMatchObject({
      ConditionExpression: 'attribute_not_exists(#size) OR #size <= :limit',
      ExpressionAttributeValues: expect.objectContaining({ ':limit': 95 }),
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers queueFull without any call when one batch is larger than the whole queue may be', async () => {
    expect(await new DynamoQueueStore().createBatch({ ...newBatch, count: 101 }, 100)).toEqual({ queueFull: { size: 0, limit: 100 } });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('returns the existing batch when the Idempotency-Key was written by a concurrent submit', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { batchSeq: 8 } });
    ddb.on(TransactWriteCommand).callsFake(() => {
      put({ ...keys.idempotency(7, 'k1'), type: 'idempotency', batch: 7, hash: 'h' });
      throw cancelled(['None', 'None', 'ConditionalCheckFailed']);
    });
    const result = await new DynamoQueueStore().createBatch({ ...newBatch, idempotency: { key: 'k1', hash: 'h' } }, 100);
    expect(result).toEqual({ idempotent: { batch: 7, hash: 'h' } });
  });
});
