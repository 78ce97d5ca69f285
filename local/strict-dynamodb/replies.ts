/**
 * The strict proxy's answers: DynamoDB's JSON errors (conflicts, throttles, cancelled
 * transactions) and 200s as the real service words and checksums them, and upstream replies with a
 * rewritten body.
 */
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { JSON_TYPE, type Json } from './wire';

const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';

export const CONFLICT_MESSAGE = 'Transaction is ongoing for the item';
export const THROUGHPUT_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your ' +
  'table or index so please try again shortly. If exceptions persist, check if you have a hot key: ' +
  'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.';

/** A response, synthesized or from upstream: raw header list without length/hop-by-hop headers. */
export interface Reply {
  status: number;
  headers: string[];
  body: Buffer;
  /** Whether the request reached upstream (a 500-after-apply only replaces forwarded replies). */
  forwarded: boolean;
}

/** Not passed on: lengths are recomputed, the body is already read whole (no 100-continue). */
export const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'expect']);

export function withoutHeaders(raw: readonly string[], drop: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!drop.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

export function errorReply(status: number, type: string, message: string, extra: Json = {}): Reply {
  const body = Buffer.from(JSON.stringify({ __type: `${ERROR_PREFIX}${type}`, message, ...extra }));
  return {
    status,
    headers: ['Content-Type', JSON_TYPE, 'x-amzn-RequestId', randomUUID(), 'x-amz-crc32', String(crc32(body))],
    body,
    forwarded: false,
  };
}

export function jsonReply(value: Json): Reply {
  const body = Buffer.from(JSON.stringify(value));
  return {
    status: 200,
    headers: ['Content-Type', JSON_TYPE, 'x-amzn-RequestId', randomUUID(), 'x-amz-crc32', String(crc32(body))],
    body,
    forwarded: false,
  };
}

/** An upstream reply with a new JSON body (the checksum recomputed). */
export function rewritten(reply: Reply, value: Json): Reply {
  const body = Buffer.from(JSON.stringify(value));
  const headers = withoutHeaders(reply.headers, new Set(['x-amz-crc32']));
  headers.push('x-amz-crc32', String(crc32(body)));
  return { ...reply, headers, body };
}

export type Reason = 'None' | 'TransactionConflict' | 'ThrottlingError';

export function cancelled(reasons: Reason[]): Reply {
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

export const throughputExceeded = () => errorReply(400, 'ProvisionedThroughputExceededException', THROUGHPUT_MESSAGE);
