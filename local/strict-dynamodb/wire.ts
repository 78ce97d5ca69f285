/**
 * DynamoDB's JSON wire protocol as the strict proxy reads it: item and partition identities from
 * keys, capacity units, the partition a query names, the attributes an update touches, and the
 * caller's DynamoDB Local database from its signature.
 */

export type Json = Record<string, unknown>;

export interface KeySchema {
  hash: string;
  range?: string;
}
export interface TableInfo {
  /** Namespace (DynamoDB Local keeps one database per access key and region) + table name. */
  id: string;
  key: KeySchema;
  gsis: Map<string, KeySchema>;
}

export const TARGET_PREFIX = 'DynamoDB_20120810.';
export const JSON_TYPE = 'application/x-amz-json-1.0';

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The attributes a write may have changed: every one (a put, a delete) or those an update names. */
export type IndexesTouched = 'all' | Set<string>;

/**
 * Attribute names an UpdateItem's expression names (SET/REMOVE/ADD/DELETE targets and operands):
 * an index whose key attributes are not among them keeps its entry unchanged, as on AWS.
 */
export function indexesTouchedBy(update: Json): IndexesTouched {
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

/** A key attribute value as a string that equal values share (S, N with its zeros trimmed, B). */
export function canon(value: unknown): string | undefined {
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

export function partitionId(table: TableInfo, keyOrItem: unknown): string | undefined {
  if (!isObject(keyOrItem)) return undefined;
  const hash = canon(keyOrItem[table.key.hash]);
  return hash === undefined ? undefined : `${table.id}\u0001${hash}`;
}

/** Item identity: table + full primary key (undefined when the key attributes are missing). */
export function itemId(table: TableInfo, keyOrItem: unknown): string | undefined {
  const partition = partitionId(table, keyOrItem);
  if (partition === undefined || !table.key.range) return partition;
  const range = canon((keyOrItem as Json)[table.key.range]);
  return range === undefined ? undefined : `${partition}\u0001${range}`;
}

/** Capacity units for `value` at `per` bytes a unit (JSON length approximates DynamoDB's item size). */
export function unitsOf(value: unknown, per: number): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? {}).length / per));
}

/** A BatchWriteItem request's key (the item for a put) and write units. */
export function batchWriteTarget(request: unknown): { keySource: unknown; cost: number } {
  if (isObject(request) && isObject(request.PutRequest)) {
    return { keySource: request.PutRequest.Item, cost: unitsOf(request.PutRequest.Item, 1024) };
  }
  return { keySource: isObject(request) && isObject(request.DeleteRequest) ? request.DeleteRequest.Key : undefined, cost: 1 };
}

/** The value a Query's key condition gives the partition key `attribute`. */
export function partitionValueOf(input: Json, attribute: string): unknown {
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

/** `AKID/region` from a SigV4 Authorization header: DynamoDB Local's database for the caller. */
export function namespaceOf(authorization: string | undefined): string {
  const match = authorization ? /Credential=([^/,\s]+)\/[^/]*\/([^/]+)\//.exec(authorization) : null;
  return match ? `${match[1]}/${match[2]}` : '';
}
