import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Upstream } from './upstream';
import { isObject, JSON_TYPE, type Json, type KeySchema, TARGET_PREFIX, type TableInfo } from './wire';

/** Tables' key schemas, asked of upstream with one DescribeTable per table and namespace, then cached. */
export class TableSchemas {
  private readonly tables = new Map<string, TableInfo>();
  private readonly describing = new Map<string, Promise<TableInfo | undefined>>();

  constructor(private readonly upstream: Upstream) {}

  /** After a CreateTable, DeleteTable or UpdateTable a cached schema may be stale. */
  forget(): void {
    this.tables.clear();
  }

  /** The tables a request names, with their key schemas; undefined if one is unknown upstream. */
  async tablesFor(op: string, input: Json, namespace: string, req: IncomingMessage): Promise<Map<string, TableInfo> | undefined> {
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
      host: this.upstream.host,
      'content-type': JSON_TYPE,
      'x-amz-target': `${TARGET_PREFIX}DescribeTable`,
      'content-length': body.length,
    };
    // The caller's credentials select DynamoDB Local's database (it ignores the signature).
    for (const h of ['authorization', 'x-amz-date', 'x-amz-security-token']) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    const reply = await this.upstream.send('POST', '/', headers, body);
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
}
