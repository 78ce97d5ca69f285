/**
 * Item ↔ record mapping and page tokens. Cursors are the key of the last item returned, opaque to
 * clients and checked to stay in their partition: a forged one is a client mistake
 * (BadPageTokenError), never a key DynamoDB would reject.
 */
import { BadPageTokenError } from '../../domain/errors';
import type { MemberRecord } from '../../domain/model';
import type { Page } from '../../domain/ports';
import { keys } from './keys';
import type { Item } from './table';

const KEY_ATTRIBUTES = new Set([
  'pk',
  'sk',
  'type',
  'gsi1pk',
  'gsi1sk',
  'gsi2pk',
  'gsi2sk',
  'gsi3pk',
  'gsi3sk',
  'gsi4pk',
  'gsi4sk',
  'expiresAt',
  'shard',
]);

export function stripKeys<T>(item: Item): T {
  return Object.fromEntries(Object.entries(item).filter(([k]) => !KEY_ATTRIBUTES.has(k))) as T;
}

export const toMember = (item: Item): MemberRecord => stripKeys<MemberRecord>(item);

export function memberItem(member: MemberRecord): Item {
  return {
    ...keys.member(member.customer, member.batch, member.index),
    ...keys.memberAsset(member.customer, member.space, member.id, member.batch),
    type: 'member',
    ...member,
  };
}

/** `{ gsi2pk, gsi2sk }` → `{ ':ap': …, ':as': … }` for expressions that set an index key pair. */
export function prefixed(values: Record<string, string>, prefix: string): Record<string, string> {
  const [pkValue, skValue] = Object.values(values);
  return { [`:${prefix}p`]: pkValue as string, [`:${prefix}s`]: skValue as string };
}

export function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * Decodes a page token. It must hold exactly the key attributes this collection issues (`names`),
 * with the expected partition values and sort keys of the expected shape.
 */
export function decodeCursor(
  cursor: string | undefined,
  expected: Record<string, string>,
  names: readonly string[] = Object.keys(expected),
  shapes: Record<string, RegExp> = {},
): Item | undefined {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.keys(key).length === names.length &&
    names.every((n) => typeof (key as Item)[n] === 'string' && ((key as Item)[n] as string).length <= 512) &&
    Object.entries(expected).every(([name, value]) => (key as Item)[name] === value) &&
    Object.entries(shapes).every(([name, shape]) => shape.test((key as Item)[name] as string));
  if (!valid) throw new BadPageTokenError();
  return key as Item;
}

export function withNext<T>(items: T[], lastKey: Item | undefined): Page<T> {
  return lastKey ? { items, next: encodeCursor(lastKey) } : { items };
}
