/**
 * Validation of a submitted hydra Collection of assets. All-or-nothing: every problem of every
 * member is collected and reported together, and nothing is written unless there are none.
 * (Reading the request body into the `member` array is the edge's: http/request-bodies.ts.)
 */
// zod/mini: the same engine as zod 4 with a tree-shakable API, so the submit bundle stays small
// (the classic API alone is ~400 KB minified).
import * as z from 'zod/mini';
import type { $ZodIssue } from 'zod/v4/core';
import { type MemberProblem, ValidationFailedError } from './errors';
import type { AssetInput } from './model';

const ID_PATTERN = /^[A-Za-z0-9._~-]{1,200}$/;
/** `.` and `..` are path segments, not names; a pattern (not a refinement) so the OpenAPI schema says it too. */
const NOT_ONLY_DOTS = /^(?!\.+$)/;
const MEDIA_TYPE_PATTERN = /^[A-Za-z0-9!#$&^_.+-]{1,127}\/[A-Za-z0-9!#$&^_.+-]{1,127}$/;

/** Whether a string could be an asset id (so a lookup by it can never be a malformed key). */
export function isAssetId(id: string): boolean {
  return ID_PATTERN.test(id) && NOT_ONLY_DOTS.test(id);
}

const shortText = (max: number) => z.string().check(z.maxLength(max, `must be at most ${max} characters`));
const int = () => z.int('must be an integer');

/** One submitted vocab:Image (also the source of the OpenAPI request schema, lambdas/http/openapi.ts). */
export const assetSchema = z.object({
  id: z
    .string('must be a string')
    .check(
      z.regex(ID_PATTERN, 'must be 1–200 characters of A–Z, a–z, 0–9, ".", "_", "~" or "-"'),
      z.regex(NOT_ONLY_DOTS, 'must not consist only of dots'),
    ),
  space: int().check(z.gte(0, 'must be ≥ 0'), z.lte(2_147_483_647, 'is too large')),
  origin: z
    .string('must be a string')
    .check(z.maxLength(2048, 'must be at most 2048 characters'), z.refine(isHttpUrl, 'must be an absolute http or https URL')),
  mediaType: z.optional(z.string().check(z.regex(MEDIA_TYPE_PATTERN, 'must be a media type such as image/jpeg'))),
  family: z.optional(z.enum(['I', 'T', 'F'], 'must be one of I, T, F')),
  string1: z.optional(shortText(1024)),
  string2: z.optional(shortText(1024)),
  string3: z.optional(shortText(1024)),
  number1: z.optional(int()),
  number2: z.optional(int()),
  number3: z.optional(int()),
  tags: z.optional(z.array(shortText(200)).check(z.maxLength(50, 'must have at most 50 entries'))),
  roles: z.optional(z.array(shortText(500)).check(z.maxLength(20, 'must have at most 20 entries'))),
  maxUnauthorised: z.optional(int().check(z.gte(-1, 'must be ≥ -1'))),
});

function isHttpUrl(value: string): boolean {
  // Refuses C0 controls and DEL on purpose: `new URL` below would accept them, stripped or percent-encoded.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this refuses (see above).
  if (/[\u0000-\u001f\u007f\s]/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/**
 * Validates every member; returns the assets or throws a ValidationFailedError listing every
 * problem (member index, field, message). Duplicate `space`+`id` pairs inside one batch are
 * problems too.
 */
export function validateMembers(members: unknown[], maxBatchSize: number): AssetInput[] {
  if (members.length === 0) throw new ValidationFailedError('The collection has no members: submit at least one image.');
  if (members.length > maxBatchSize) {
    throw new ValidationFailedError(`The collection has ${members.length} members; at most ${maxBatchSize} may be submitted in one batch.`);
  }
  const problems: MemberProblem[] = [];
  const assets: AssetInput[] = [];
  const seen = new Map<string, number>();
  members.forEach((candidate, index) => {
    if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) {
      problems.push({ member: index, field: '', message: 'must be a JSON object (a vocab:Image)' });
      return;
    }
    const result = assetSchema.safeParse(candidate);
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push({ member: index, field: issue.path.join('.') || '', message: issueMessage(issue, candidate) });
      }
      return;
    }
    const asset = stripUndefined(result.data) as AssetInput;
    const identity = `${asset.space}/${asset.id}`;
    const first = seen.get(identity);
    if (first !== undefined) {
      problems.push({ member: index, field: 'id', message: `duplicates member ${first} (space ${asset.space}, id '${asset.id}')` });
      return;
    }
    seen.set(identity, index);
    assets.push(asset);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 1000);
    throw new ValidationFailedError(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the submitted members; nothing was queued.` +
        (shown.length < problems.length ? ` The first ${shown.length} are listed.` : ''),
      shown,
    );
  }
  return assets;
}

function issueMessage(issue: $ZodIssue, candidate: object): string {
  if (issue.code === 'invalid_type') {
    let value: unknown = candidate;
    for (const part of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey];
    if (value === undefined) return 'is required';
    // A number of the wrong kind: 1.5 where an integer is needed, or 1e400 (parsed as Infinity).
    const expected = String(issue.expected) === 'int' ? 'integer' : String(issue.expected);
    if (typeof value === 'number' && (expected === 'integer' || expected === 'number')) {
      return Number.isFinite(value) ? 'must be an integer' : 'must be a finite number';
    }
    return `must be ${article(expected)}, not ${describe(value)}`;
  }
  return issue.message;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : article(typeof value);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
