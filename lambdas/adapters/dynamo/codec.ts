/**
 * Item ↔ record mapping and page tokens. Cursors are the key of the last item returned, opaque to
 * clients and checked to stay in their partition: a forged one is a client mistake (400), never a
 * key DynamoDB would reject.
 */
import { HttpError } from '../../http/problem';
import { keys, type MemberRecord } from '../../domain/model';
import type { Page } from '../../domain/ports';
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

/**
 * The sparse index entry of a member that ended in error: set by the transition that records the
 * error, on no other member, so `errorImages` reads only error members however few a batch has
 * (a 2,500-member batch whose 2 errors are its last members pages them at once). One partition per
 * member partition (`keys.member`), so the index spreads writes as the table does; the sort key is
 * the member's, so readers merge the partitions in index order and share the members' cursors.
 * Cost: one KEYS_ONLY index entry per error member; completed members write none.
 */
export function memberErrorIndex(customer: number, batch: number, index: number): { gsi2pk: string; gsi2sk: string } {
  const { pk, sk } = keys.member(customer, batch, index);
  return { gsi2pk: `${pk}#ERROR`, gsi2sk: sk };
}

/** The error-index partition of member partition `partitionPk` (see memberErrorIndex). */
export const errorIndexPartition = (partitionPk: string): string => `${partitionPk}#ERROR`;

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
  if (!valid) throw new HttpError(400, "The 'page' token is not one this API issued for this collection.");
  return key as Item;
}

export const BATCH_SK = /^BATCH#\d{12}$/;
export const MEMBER_SK = /^M#(\d{6}~?)?$/;

export function withNext<T>(items: T[], lastKey: Item | undefined): Page<T> {
  return lastKey ? { items, next: encodeCursor(lastKey) } : { items };
}

/** `CUST#12#ACTIVE` → 12. */
export function customerOf(partition: string): number {
  return Number(/^CUST#(\d+)/.exec(partition)?.[1]);
}
