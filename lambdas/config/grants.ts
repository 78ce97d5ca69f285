/**
 * What each Lambda function may call, and nothing more: the stack turns this table into IAM
 * statements (lib/constructs/functions.ts), and an integration suite records every AWS call the
 * handlers make through the local runtime and checks it against the same table, so a missing
 * grant fails a test here instead of an AccessDenied on AWS, and an unused one is noticed.
 *
 * The queue consumers' receive/delete rights come from their event sources (`CONSUMERS` in
 * functions.ts; the stack grants them with the mapping), not from this table.
 */
import type { FunctionName } from './functions';
import type { WorkQueueName } from './resources';

/**
 * DynamoDB actions as IAM names them. A TransactWriteItems needs the action of each item it holds
 * (PutItem, UpdateItem, DeleteItem, ConditionCheckItem); TransactGetItems needs GetItem.
 */
export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** SQS actions on a work queue (SendMessageBatch is authorised by SendMessage). */
export type QueueAction = 'SendMessage' | 'GetQueueAttributes' | 'ChangeMessageVisibility';

export interface FunctionGrants {
  /** Actions on the queue table; `indexes` adds Query on its global secondary indexes. */
  table?: { actions: readonly DynamoAction[]; indexes?: boolean };
  /** Actions on the credentials table (API keys). */
  credentials?: readonly DynamoAction[];
  queues?: Partial<Record<WorkQueueName, readonly QueueAction[]>>;
  /** Reads the admin credential's secret. */
  adminSecret?: boolean;
  /** Creates and deletes API Gateway API keys in the stack's usage plan. */
  usagePlanKeys?: boolean;
  /** Publishes completion notices on the notices topic (whoever may finish a batch). */
  notices?: boolean;
}

/**
 * Reading a batch or a member is a BatchGetItem plus a Query of its counter shards; state changes
 * are UpdateItems (alone or in transactions). Only submits and the load sampler create items, and
 * only the key routes delete any: the processors, which parse untrusted content, can neither put
 * nor delete an item, nor reach the credentials table.
 */
const READ: readonly DynamoAction[] = ['BatchGetItem', 'Query'];

export const FUNCTION_GRANTS: Record<FunctionName, FunctionGrants> = {
  authorizer: { credentials: ['GetItem'], adminSecret: true },
  'api-keys': { credentials: ['GetItem', 'Query', 'PutItem', 'DeleteItem'], usagePlanKeys: true },
  'api-read': {
    table: { actions: READ, indexes: true },
    queues: { main: ['GetQueueAttributes'], priority: ['GetQueueAttributes'] },
  },
  'api-operator': { table: { actions: READ, indexes: true } },
  // Static files from its own bundle: no AWS call at all.
  'api-console': {},
  // GetItem: the Idempotency-Key record; PutItem: the batch head in its creating transaction.
  'api-submit': {
    table: { actions: ['GetItem', ...READ, 'PutItem', 'UpdateItem', 'BatchWriteItem'] },
    queues: { main: ['SendMessage'], priority: ['SendMessage'], tasks: ['SendMessage'] },
  },
  'api-test-batch': { table: { actions: [...READ, 'UpdateItem'], indexes: true }, notices: true },
  // Cancel moves members and finishes the batch; retry submits a new batch like api-submit.
  'api-batch-actions': {
    table: { actions: [...READ, 'PutItem', 'UpdateItem', 'BatchWriteItem'] },
    queues: { main: ['SendMessage'], priority: ['SendMessage'], tasks: ['SendMessage'] },
    notices: true,
  },
  // ChangeMessageVisibility: a transient origin failure is retried after a short delay.
  'process-images': {
    table: { actions: [...READ, 'UpdateItem'] },
    queues: { main: ['ChangeMessageVisibility'], priority: ['ChangeMessageVisibility'] },
    notices: true,
  },
  'record-dead-letters': { table: { actions: [...READ, 'UpdateItem'] }, notices: true },
  // Supersede tasks find an asset's members through the asset index, read them, update them.
  'run-tasks': { table: { actions: ['BatchGetItem', 'UpdateItem'], indexes: true } },
  // Also publishes the completion notices a crashed finisher left pending.
  'sweep-enqueueing': {
    table: { actions: [...READ, 'UpdateItem'], indexes: true },
    queues: { main: ['SendMessage'], priority: ['SendMessage'], tasks: ['SendMessage'] },
    notices: true,
  },
  'sample-load': { table: { actions: [...READ, 'BatchWriteItem'], indexes: true } },
};
