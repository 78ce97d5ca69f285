/**
 * Scenario 1 — submit: POST batches of each size (pollers paused, so only the submit handler
 * works), count the calls it made, compare with the minimum, and time a bare script issuing just
 * the minimal calls against the same emulators. Handler and bare runs alternate so that any drift
 * (the table growing) hits both alike.
 */
import { QUEUES } from '../../lambdas/config/resources';
import { BARE_TAG, bareSubmitter } from '../bare-submit';
import { assets, type BatchBody, collectionBody, type Harness, type Stats, stats } from '../harness';
import { type CallPlan, expectedHandlerCalls, minimalSubmitCalls } from '../minimum';
import { totalsOf } from '../sdk-counters';

export interface SubmitSizeResult {
  members: number;
  /** Customer the handler's batches of this size were submitted for, and the last of them. */
  customer: number;
  lastBatch: number;
  repetitions: number;
  /** Request body bytes. */
  bodyBytes: number;
  /** Marginal body bytes per member, and as the body appears JSON-escaped inside the Lambda event. */
  bodyBytesPerMember: number;
  eventBytesPerMember: number;
  /** Client-side wall time of the POST (HTTP, authorizer and handler). */
  handlerMs: Stats;
  /** Time inside the submit handler alone, and inside the authorizer. */
  insideHandlerMs: Stats;
  authorizerMs: Stats;
  bareMs: Stats;
  /** Calls one POST made (handler + authorizer), per service and command; the largest seen over the repetitions. */
  calls: { dynamodb: Record<string, number>; sqs: Record<string, number>; total: number };
  /** Whether every repetition made the same number of calls. */
  callsStable: boolean;
  minimum: CallPlan;
  /** What the handler is expected to issue today (minimum.ts; no Idempotency-Key is sent). */
  expected: CallPlan;
  /** Whether `calls` equals `expected` command by command. */
  matchesExpected: boolean;
  /** Calls the bare script made (must equal the minimum). */
  bareCalls: number;
  callsOverMinimum: number;
  handlerOverBare: number;
  writeUnits: number;
  readUnits: number;
  sdkRetries: number;
}

export interface SubmitResult {
  sizes: SubmitSizeResult[];
}

const SUBMIT_TAGS = ['api-submit', 'authorizer'];

function sameCalls(a: Record<string, number>, b: Record<string, number>): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

export async function runSubmitScenario(h: Harness, sizes: readonly number[], reps: number, customerBase: number): Promise<SubmitResult> {
  await h.quiesce();
  // Warm-up (module loading, JIT of both processes, connections), not measured.
  const warmup = assets(Math.min(1000, Math.max(...sizes)), 'warmup', h.originUrl());
  const bare = bareSubmitter(
    {
      dynamoEndpoint: h.runtime.dynamoEndpoint,
      sqsEndpoint: h.runtime.sqsEndpoint,
      tableName: h.runtime.env.TABLE_NAME as string,
      queueUrl: h.runtime.env[QUEUES.main.urlEnv] as string,
      region: h.runtime.region,
      credentials: h.runtime.credentials,
    },
    h.counters,
  );
  const results: SubmitSizeResult[] = [];
  try {
    const warm = await h.post(`/customers/${customerBase + 99}/queue`, collectionBody(warmup));
    if (warm.status !== 201) throw new Error(`warm-up submit answered ${warm.status}: ${JSON.stringify(warm.json).slice(0, 500)}`);
    await bare.submit(customerBase + 199, warmup);
    await h.purge('main', 'tasks');
    for (const [sizeIndex, n] of sizes.entries()) {
      const customer = customerBase + sizeIndex;
      const bareCustomer = customerBase + 100 + sizeIndex;
      const handlerTimes: number[] = [];
      const insideTimes: number[] = [];
      const authorizerTimes: number[] = [];
      const bareTimes: number[] = [];
      const callTotals: number[] = [];
      let calls: SubmitSizeResult['calls'] = { dynamodb: {}, sqs: {}, total: 0 };
      let writeUnits = 0;
      let readUnits = 0;
      let sdkRetries = 0;
      let bareCalls = 0;
      let bodyBytes = 0;
      let bodyBytesPerMember = 0;
      let eventBytesPerMember = 0;
      let lastBatch = 0;
      for (let rep = 0; rep < reps; rep++) {
        const members = assets(n, `s${n}-r${rep}`, h.originUrl());
        const body = collectionBody(members);
        const empty = collectionBody([]);
        bodyBytes = Buffer.byteLength(body);
        bodyBytesPerMember = (bodyBytes - Buffer.byteLength(empty)) / n;
        eventBytesPerMember = (Buffer.byteLength(JSON.stringify(body)) - Buffer.byteLength(JSON.stringify(empty))) / n;

        h.resetCounts();
        const answer = await h.post<BatchBody>(`/customers/${customer}/queue`, body);
        if (answer.status !== 201)
          throw new Error(`submit of ${n} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 500)}`);
        handlerTimes.push(answer.ms);
        lastBatch = Number(answer.json.id);
        const inside = h.handlerTimes();
        insideTimes.push(inside['api-submit']?.ms ?? NaN);
        authorizerTimes.push(inside.authorizer?.ms ?? 0);
        const snapshot = h.counters.snapshot();
        const dynamo = totalsOf(snapshot, 'dynamodb', SUBMIT_TAGS);
        const sqs = totalsOf(snapshot, 'sqs', SUBMIT_TAGS);
        const total = dynamo.calls + sqs.calls;
        callTotals.push(total);
        if (total >= calls.total) {
          calls = { dynamodb: dynamo.byCommand, sqs: sqs.byCommand, total };
          writeUnits = dynamo.writeUnits;
          readUnits = dynamo.readUnits;
          sdkRetries = dynamo.attempts - dynamo.calls + (sqs.attempts - sqs.calls);
        }

        h.resetCounts();
        bareTimes.push(await bare.submit(bareCustomer, members));
        const bareSnapshot = h.counters.snapshot();
        bareCalls = totalsOf(bareSnapshot, 'dynamodb', [BARE_TAG]).calls + totalsOf(bareSnapshot, 'sqs', [BARE_TAG]).calls;
      }
      // Nothing processes these messages: drop them before the next size.
      await h.purge('main', 'tasks');
      const handlerMs = stats(handlerTimes);
      const bareMs = stats(bareTimes);
      const minimum = minimalSubmitCalls(n);
      const expected = expectedHandlerCalls(n);
      results.push({
        members: n,
        customer,
        lastBatch,
        repetitions: reps,
        bodyBytes,
        bodyBytesPerMember,
        eventBytesPerMember,
        handlerMs,
        insideHandlerMs: stats(insideTimes),
        authorizerMs: stats(authorizerTimes),
        bareMs,
        calls,
        callsStable: callTotals.every((c) => c === callTotals[0]),
        minimum,
        expected,
        matchesExpected: sameCalls(calls.dynamodb, expected.dynamodb) && sameCalls(calls.sqs, expected.sqs),
        bareCalls,
        callsOverMinimum: calls.total / minimum.total,
        handlerOverBare: handlerMs.median / bareMs.median,
        writeUnits,
        readUnits,
        sdkRetries,
      });
    }
  } finally {
    bare.close();
  }
  return { sizes: results };
}

/**
 * The largest batch one POST can carry: by bytes (the handler's MAX_BODY_BYTES on the raw body, and
 * Lambda's 6 MB invocation payload on the JSON-escaped body inside the proxy event, with 64 KiB for
 * headers and context) and by time (API Gateway's 29 s, from a least-squares line through the
 * measured median times).
 */
export interface BatchLimit {
  maxBodyBytes: number;
  lambdaPayloadBytes: number;
  apiTimeoutMs: number;
  byBodyLimit: number;
  byLambdaPayload: number;
  byTime: number;
  /** min of the three. */
  largest: number;
  msPerMember: number;
  fixedMs: number;
  /** Largest measured size as a fraction of each limit. */
  largestMeasured: { members: number; bodyFraction: number; payloadFraction: number; timeFraction: number };
}

export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const API_GATEWAY_TIMEOUT_MS = 29_000;

export function batchLimit(result: SubmitResult, maxBodyBytes: number): BatchLimit {
  const points = result.sizes.map((s) => ({ x: s.members, y: s.handlerMs.median }));
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const largestSize = result.sizes.reduce((a, s) => (s.members > a.members ? s : a));
  const slope = sxx > 0 ? sxy / sxx : largestSize.handlerMs.median / largestSize.members;
  const intercept = sxx > 0 ? my - slope * mx : 0;
  const headroom = 64 * 1024;
  const byBodyLimit = Math.floor(maxBodyBytes / largestSize.bodyBytesPerMember);
  const byLambdaPayload = Math.floor((LAMBDA_PAYLOAD_BYTES - headroom) / largestSize.eventBytesPerMember);
  const byTime = slope > 0 ? Math.floor((API_GATEWAY_TIMEOUT_MS - Math.max(0, intercept)) / slope) : Infinity;
  return {
    maxBodyBytes,
    lambdaPayloadBytes: LAMBDA_PAYLOAD_BYTES,
    apiTimeoutMs: API_GATEWAY_TIMEOUT_MS,
    byBodyLimit,
    byLambdaPayload,
    byTime,
    largest: Math.min(byBodyLimit, byLambdaPayload, byTime),
    msPerMember: slope,
    fixedMs: intercept,
    largestMeasured: {
      members: largestSize.members,
      bodyFraction: largestSize.bodyBytes / maxBodyBytes,
      payloadFraction: (largestSize.eventBytesPerMember * largestSize.members + headroom) / LAMBDA_PAYLOAD_BYTES,
      timeFraction: largestSize.handlerMs.median / API_GATEWAY_TIMEOUT_MS,
    },
  };
}
