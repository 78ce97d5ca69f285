/**
 * Hostile input through the real runtime (API Gateway emulation → handlers → DynamoDB Local):
 * a corpus of malformed requests, each with the exact 4xx it must get, then property-based fuzzing
 * with fast-check. Every answer must be a JSON error (`@type` Error, `statusCode` = HTTP status, no
 * stack trace) and the table must be exactly as it was: nothing is ever written on bad input.
 *
 * The corpus runs twice: against a customer with no data at all and against one with batches.
 * Requests go out through node:http with the raw path and headers, so `..`, `%2e%2e`, a missing
 * Content-Type or invalid UTF-8 reach the server as sent (fetch would normalise or add them).
 *
 * Fuzzing seed: FC_SEED=<n> to replay (a failure prints the seed and the shrunk counterexample).
 */
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { ROUTES } from '../../lambdas/config/routes';
import { silentLogger } from '../../local/handlers';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { tableSnapshot } from '../support/table-snapshot';

jest.setTimeout(120_000);

const MAX_BODY_BYTES = 200_000;
const MAX_BATCH_SIZE = 50;
const ADMIN = `Basic ${Buffer.from('admin:local-admin-secret').toString('base64')}`;
/** Never submitted to: the corpus must leave it without a single item. */
const EMPTY_CUSTOMER = 301;
/** Has batches (main and priority) before the corpus runs. */
const BUSY_CUSTOMER = 302;
const FC_SEED = Number(process.env.FC_SEED ?? 20_240_601);
const FC_RUNS = Number(process.env.FC_RUNS ?? 300);

let runtime: LocalRuntime | undefined;
let busyKey = '';
/** Page tokens the API really issued, by collection. */
const tokens: Record<string, string> = {};
/** The seeded batches of BUSY_CUSTOMER (ids are a per-customer sequence). */
const BUSY_BATCHES = [1, 2, 3];
const token = (name: string) => tokens[name] ?? 'notPreparedYet';

// ---- HTTP ---------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Default: admin credentials. null: none. */
  authorization?: string | null;
}

function send(req: RawRequest): Promise<Answer> {
  const { port } = new URL(runtime!.apiUrl);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: Record<string, string | number> = { ...req.headers };
  const authorization = req.authorization === undefined ? ADMIN : req.authorization;
  if (authorization !== null) headers.Authorization = authorization;
  if (body !== undefined) headers['Content-Length'] = body.length;
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A 413 closes the connection before the whole body is read: the answer still arrives.
    r.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    r.setTimeout(30_000, () => r.destroy(new Error(`${req.method} ${req.path.slice(0, 100)}: no answer in 30 s`)));
    if (body !== undefined) r.write(body);
    r.end();
  });
}

interface ErrorBody {
  '@context': string;
  '@type': string;
  statusCode: number;
  title: string;
  detail: string;
  errors?: Array<{ member: number; field: string; message: string }>;
}

/** The invariants of every error answer; returns the parsed body. */
function expectJsonError(answer: Answer, status: number, label: string): ErrorBody {
  const context = `${label}: got ${answer.status} ${answer.text.slice(0, 300)}`;
  expect({ context, status: answer.status }).toEqual({ context, status });
  expect(String(answer.headers['content-type'])).toMatch(/^application\/(ld\+)?json\b/);
  const body = JSON.parse(answer.text) as ErrorBody;
  expect(body['@type']).toBe('Error');
  expect(body.statusCode).toBe(status);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(typeof body['@context']).toBe('string');
  expect(answer.text).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|stack|Error: /i);
  return body;
}

// ---- bodies -------------------------------------------------------------------------------------

type Member = Record<string, unknown>;
const member = (id: string, extra: Member = {}): Member => ({ id, space: 1, origin: `https://example.org/img/${id}.jpg`, ...extra });
const collection = (members: unknown[]): string => JSON.stringify({ '@type': 'Collection', member: members });
const JSON_HEADERS = { 'Content-Type': 'application/json' };

// ---- the corpus ---------------------------------------------------------------------------------

type Category =
  | 'malformed JSON'
  | 'truncated JSON'
  | 'not an object'
  | 'member missing or not an array'
  | 'empty member array'
  | 'content type'
  | 'body too large'
  | 'too many members'
  | 'deep nesting'
  | 'wrong field types'
  | 'bad ids'
  | 'duplicates'
  | 'several problems'
  | 'path parameters'
  | 'unknown path'
  | 'wrong method'
  | 'paging'
  | 'idempotency key'
  | 'queue order';

interface Case {
  category: Category;
  name: string;
  request: RawRequest;
  status: number;
  /** For 422: exactly these (member, field) problems, in any order. */
  errors?: Array<[number, string]>;
  /** A 405 must say what is allowed. */
  allow?: boolean;
}

function corpus(customer: number, authorization: string): Case[] {
  const cases: Case[] = [];
  const Q = `/customers/${customer}/queue`;
  const submit = (
    category: Category,
    name: string,
    body: string | Buffer | undefined,
    status: number,
    more: Partial<Case> = {},
    headers: Record<string, string> = JSON_HEADERS,
  ) =>
    cases.push({
      category,
      name,
      request: { method: 'POST', path: Q, headers, authorization, ...(body !== undefined ? { body } : {}) },
      status,
      ...more,
    });
  const invalid = (category: Category, name: string, members: unknown[], errors: Array<[number, string]>) =>
    submit(category, name, collection(members), 422, { errors });

  // Malformed JSON.
  const malformed = [
    '{',
    '}',
    '[',
    '{"member":[}',
    '{"member":[{]}',
    "{'member':[]}",
    '{member:[]}',
    '{"member":[1,]}',
    '{"member":[],}',
    '{"member" [] }',
    '{"member":[{"id":"a",}]}',
    'nul',
    'tru',
    'undefined',
    'NaN',
    '{"member":NaN}',
    '{"member":[Infinity]}',
    '{"a":1}{"b":2}',
    '{"member":[]} trailing',
    '\u0000',
    '\uFEFF{"member":[]}',
    '{"member":["\\x41"]}',
    '{"member":["\\u12"]}',
    '{"member":["unterminated]}',
    '{"member":[0x10]}',
    '{"member":[01]}',
    '{"member":[.5]}',
    '{"member":[+1]}',
    '/* c */ {"member":[]}',
    '{"member":["a"\n"b"]}',
    ' ',
    '\n\t',
    '"',
    '{"member":[{"id":"a\u0001"}]}',
  ];
  for (const [i, body] of malformed.entries()) submit('malformed JSON', `malformed #${i} ${JSON.stringify(body).slice(0, 40)}`, body, 400);
  // Invalid UTF-8 is decoded with replacement characters: the JSON then no longer parses.
  submit('malformed JSON', 'invalid UTF-8 bytes', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe]), 400);

  // Truncations of a valid body at many points (every prefix is invalid JSON).
  const valid = collection([member('t1', { tags: ['a', 'b'], number1: 3 }), member('t2', { string1: 'x y' })]);
  const cuts = new Set<number>();
  for (let n = 1; n < valid.length; n += Math.max(1, Math.floor(valid.length / 30))) cuts.add(n);
  for (const n of [1, 2, valid.length - 1, valid.length - 2, valid.length - 3]) cuts.add(n);
  for (const n of [...cuts].sort((a, b) => a - b)) submit('truncated JSON', `first ${n}/${valid.length} chars`, valid.slice(0, n), 400);

  // JSON that is not an object.
  for (const body of [
    '[]',
    '[{"member":[]}]',
    '"member"',
    '""',
    '0',
    '-1.5',
    '1e400',
    'null',
    'true',
    'false',
    '[null]',
    JSON.stringify([member('a')]),
  ]) {
    submit('not an object', `body ${body.slice(0, 30)}`, body, 400);
  }
  // Objects without a member array.
  for (const body of [
    '{}',
    '{"@type":"Collection"}',
    '{"members":[]}',
    '{"Member":[]}',
    '{"member":null}',
    '{"member":{}}',
    '{"member":"[]"}',
    '{"member":1}',
    '{"member":true}',
    `{"member":${JSON.stringify(member('a'))}}`,
    '{"hydra:member":[]}',
  ]) {
    submit('member missing or not an array', `body ${body.slice(0, 40)}`, body, 400);
  }
  submit('member missing or not an array', 'no body at all', undefined, 400);
  submit('member missing or not an array', 'empty body', '', 400);

  // Empty member array.
  submit('empty member array', 'member []', '{"member":[]}', 422);
  submit('empty member array', 'member [] with @context', '{"@context":"x","@type":"Collection","member":[]}', 422);

  // Content types.
  const okBody = collection([member('ct')]);
  for (const type of [
    'text/plain',
    'application/xml',
    'text/xml',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/jsonx',
    'json',
    'application/json-patch+json',
    'application/octet-stream',
    'image/jpeg',
    'application/problem+json',
    '*/*',
    'application/*',
    'text/json',
    'application/ json',
  ]) {
    submit('content type', `Content-Type ${type}`, okBody, 415, {}, { 'Content-Type': type });
  }
  submit('content type', 'no Content-Type header', okBody, 415, {}, {});
  submit('content type', 'empty Content-Type header', okBody, 415, {}, { 'Content-Type': '' });

  // Too large: over MAX_BODY_BYTES, with and without a declared length.
  const huge = collection([member('big', { string1: 'x'.repeat(MAX_BODY_BYTES) })]);
  submit('body too large', `${huge.length} bytes of JSON`, huge, 413);
  submit('body too large', 'MAX_BODY_BYTES + 1 bytes', `{"member":[${' '.repeat(MAX_BODY_BYTES - 12)}]}`, 413);
  submit(
    'body too large',
    'exactly MAX_BODY_BYTES bytes (accepted, then refused as empty)',
    `{"member":[${' '.repeat(MAX_BODY_BYTES - 13)}]}`,
    422,
  );
  submit('body too large', `${MAX_BODY_BYTES * 3} bytes of garbage`, 'x'.repeat(MAX_BODY_BYTES * 3), 413);
  submit('body too large', 'too large and text/plain', huge, 413, {}, { 'Content-Type': 'text/plain' });
  submit(
    'body too large',
    'many valid members, too large',
    collection(Array.from({ length: 40 }, (_, i) => member(`m${i}`, { string1: 'y'.repeat(6000) }))),
    413,
  );

  // More members than MAX_BATCH_SIZE (valid ones: the count alone is refused).
  for (const n of [MAX_BATCH_SIZE + 1, MAX_BATCH_SIZE + 2, MAX_BATCH_SIZE * 2, 1000]) {
    submit('too many members', `${n} members`, collection(Array.from({ length: n }, (_, i) => member(`b${i}`))), 422);
  }

  // Deep nesting.
  const depth = 100_000;
  submit('deep nesting', `${depth} nested arrays`, '['.repeat(depth) + ']'.repeat(depth), 400);
  submit('deep nesting', `${depth / 4} nested objects`, `${'{"a":'.repeat(depth / 4)}1${'}'.repeat(depth / 4)}`, 400);
  submit('deep nesting', `${depth} unclosed arrays`, '['.repeat(depth), 400);
  submit('deep nesting', `member holding ${depth / 2} nested arrays`, `{"member":${'['.repeat(depth / 2)}${']'.repeat(depth / 2)}}`, 422, {
    errors: [[0, '']],
  });
  submit(
    'deep nesting',
    `member field holding nested arrays`,
    `{"member":[{"id":${'['.repeat(depth / 2)}${']'.repeat(depth / 2)},"space":1,"origin":"https://e.org/x"}]}`,
    422,
    { errors: [[0, 'id']] },
  );
  submit('deep nesting', 'tags nested', collection([member('n', { tags: [[['a']]] })]), 422, { errors: [[0, 'tags.0']] });

  // Wrong types in every field. Member 0 is always valid, so indexes are checked too.
  // [field, value, fields of the problems reported (default: the field once)]
  const wrong: Array<[string, unknown, string[]?]> = [
    ['id', 5],
    ['id', null],
    ['id', ['a']],
    ['id', { a: 1 }],
    ['id', true],
    ['id', ''],
    ['space', 'x'],
    ['space', '1'],
    ['space', -1],
    ['space', 1.5],
    ['space', 2 ** 31],
    ['space', 1e20, ['space', 'space']],
    ['space', null],
    ['space', [1]],
    ['space', true],
    ['origin', 'not a url'],
    ['origin', 'ftp://example.org/a.jpg'],
    ['origin', 'javascript:alert(1)'],
    ['origin', '/relative/a.jpg'],
    ['origin', 'example.org/a.jpg'],
    ['origin', 'https://exa mple.org/a.jpg'],
    ['origin', 'https://example.org/a b.jpg'],
    ['origin', 'https://example.org/\u0000'],
    ['origin', 'https://example.org/\n'],
    ['origin', 'https://example.org/\u007f'],
    ['origin', 'http://'],
    ['origin', 'file:///etc/passwd'],
    ['origin', 'data:image/png;base64,AAAA'],
    ['origin', 5],
    ['origin', `https://example.org/${'a'.repeat(2048)}`],
    ['origin', ''],
    ['origin', null],
    ['origin', { href: 'https://e.org' }],
    ['mediaType', 'image'],
    ['mediaType', 'image/'],
    ['mediaType', '/jpeg'],
    ['mediaType', 'image/jpeg; q=1'],
    ['mediaType', 5],
    ['mediaType', 'imäge/jpeg'],
    ['family', 'X'],
    ['family', 'i'],
    ['family', ''],
    ['family', 1],
    ['family', ['I']],
    ['string1', 5],
    ['string2', { a: 1 }],
    ['string3', 'x'.repeat(1025)],
    ['string1', null],
    ['number1', '5'],
    ['number2', 1.5],
    ['number3', true],
    ['number1', 2 ** 60],
    ['tags', 'a'],
    ['tags', [1, 2], ['tags.0', 'tags.1']],
    ['tags', { 0: 'a' }],
    ['tags', Array(51).fill('t')],
    ['tags', ['x'.repeat(201)], ['tags.0']],
    ['tags', [null], ['tags.0']],
    ['roles', 'admin'],
    ['roles', [5], ['roles.0']],
    ['roles', Array(21).fill('r')],
    ['maxUnauthorised', 1.5],
    ['maxUnauthorised', '5'],
    ['maxUnauthorised', -2],
  ];
  for (const [field, value, fields] of wrong) {
    invalid(
      'wrong field types',
      `${field} = ${JSON.stringify(value)?.slice(0, 40)}`,
      [member('ok0'), member('w1', { [field]: value })],
      (fields ?? [field]).map((f) => [1, f]),
    );
  }
  // Missing required fields; a member that is not an object.
  invalid('wrong field types', 'member without id', [member('ok0'), { space: 1, origin: 'https://e.org/a' }], [[1, 'id']]);
  invalid('wrong field types', 'member without space', [member('ok0'), { id: 'x', origin: 'https://e.org/a' }], [[1, 'space']]);
  invalid('wrong field types', 'member without origin', [member('ok0'), { id: 'x', space: 1 }], [[1, 'origin']]);
  invalid(
    'wrong field types',
    'empty member object',
    [{}],
    [
      [0, 'id'],
      [0, 'space'],
      [0, 'origin'],
    ],
  );
  for (const value of [null, 1, 'a', [], true])
    invalid('wrong field types', `member ${JSON.stringify(value)}`, [member('ok0'), value], [[1, '']]);

  // Bad ids: unicode, control characters, traversal, length.
  const badIds = [
    'é',
    'café',
    '😀',
    'a😀',
    '\u0000',
    'a\u0000b',
    '\n',
    'a\nb',
    '\t',
    '\r\n',
    '\u200f',
    'a\u202eb',
    '\u200b',
    'a\u200db',
    '\ufeff',
    '..',
    '.',
    '...',
    '../x',
    '..\\x',
    'a/b',
    '/a',
    'a/',
    '%2e%2e',
    '%2F',
    'a%00',
    ' a',
    'a ',
    'a b',
    'a?b',
    'a#b',
    'a:b',
    'a*b',
    '<script>',
    "a'b",
    'a"b',
    'x'.repeat(201),
    'x'.repeat(1000),
  ];
  for (const id of badIds)
    invalid('bad ids', `id ${JSON.stringify(id).slice(0, 30)}`, [member('ok0'), { ...member('z'), id }], [[1, 'id']]);

  // Duplicates (same space + id), each later copy listed.
  invalid('duplicates', 'one duplicate', [member('d'), member('d')], [[1, 'id']]);
  invalid(
    'duplicates',
    'three copies',
    [member('d'), member('e'), member('d'), member('d')],
    [
      [2, 'id'],
      [3, 'id'],
    ],
  );
  invalid(
    'duplicates',
    'two pairs',
    [member('p'), member('q'), member('q'), member('p')],
    [
      [2, 'id'],
      [3, 'id'],
    ],
  );
  invalid(
    'duplicates',
    'duplicate with other fields differing',
    [member('d', { string1: 'a' }), member('d', { origin: 'https://other.org/x', number1: 2 })],
    [[1, 'id']],
  );
  invalid('duplicates', 'duplicate space given as 1.0', [member('d'), { ...member('d'), space: 1.0 }], [[1, 'id']]);
  invalid(
    'duplicates',
    'duplicates plus an invalid member',
    [member('d'), { id: 5 }, member('d')],
    [
      [1, 'id'],
      [1, 'space'],
      [1, 'origin'],
      [2, 'id'],
    ],
  );

  // Several problems at once: every one listed.
  invalid(
    'several problems',
    'every field wrong',
    [
      {
        id: '',
        space: -1,
        origin: 'x',
        mediaType: 'x',
        family: 'Q',
        string1: 1,
        number1: 'a',
        tags: 'a',
        roles: 'a',
        maxUnauthorised: 0.5,
      },
    ],
    [
      [0, 'id'],
      [0, 'space'],
      [0, 'origin'],
      [0, 'mediaType'],
      [0, 'family'],
      [0, 'string1'],
      [0, 'number1'],
      [0, 'tags'],
      [0, 'roles'],
      [0, 'maxUnauthorised'],
    ],
  );
  invalid(
    'several problems',
    'bad members among good ones',
    [member('a'), { ...member('b'), space: 'x' }, member('c'), { ...member('d'), origin: 'ftp://x' }, member('e')],
    [
      [1, 'space'],
      [3, 'origin'],
    ],
  );
  invalid(
    'several problems',
    `${MAX_BATCH_SIZE} members all invalid`,
    Array.from({ length: MAX_BATCH_SIZE }, (_, i) => ({ id: i })),
    Array.from(
      { length: MAX_BATCH_SIZE },
      (_, i) =>
        [
          [i, 'id'],
          [i, 'space'],
          [i, 'origin'],
        ] as Array<[number, string]>,
    ).flat(),
  );

  // Bad Idempotency-Key headers (on an otherwise valid body).
  for (const key of ['a b', 'ключ', 'x'.repeat(129), 'a/b', 'a;b', '{}', '"quoted"', 'a,b']) {
    submit(
      'idempotency key',
      `Idempotency-Key ${JSON.stringify(key).slice(0, 30)}`,
      collection([member('idem')]),
      400,
      {},
      { ...JSON_HEADERS, 'Idempotency-Key': encodeHeader(key) },
    );
  }
  cases.push({
    category: 'idempotency key',
    name: 'empty Idempotency-Key',
    request: {
      method: 'POST',
      path: Q,
      headers: { ...JSON_HEADERS, 'Idempotency-Key': '' },
      body: collection([member('idem')]),
      authorization,
    },
    status: 400,
  });

  // Invalid path parameters (admin credentials: a customer key would be refused first).
  const badInts = [
    'abc',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    '99999999999999999999',
    '1234567890123',
    '%20',
    '%2F',
    '1%00',
    '+1',
    ' 1',
    '١',
    'NaN',
  ];
  for (const bad of badInts) {
    cases.push({
      category: 'path parameters',
      name: `GET customer ${bad}`,
      request: { method: 'GET', path: `/customers/${encodePath(bad)}/queue` },
      status: 404,
    });
    cases.push({
      category: 'path parameters',
      name: `POST customer ${bad}`,
      request: { method: 'POST', path: `/customers/${encodePath(bad)}/queue`, headers: JSON_HEADERS, body: collection([member('p')]) },
      status: 404,
    });
  }
  for (const bad of ['x', '-1', '1.5', '99999999999999999999', '%2e%2e1', '0x1']) {
    cases.push({
      category: 'path parameters',
      name: `batch ${bad}`,
      request: { method: 'GET', path: `${Q}/batches/${bad}`, authorization },
      status: 404,
    });
    cases.push({
      category: 'path parameters',
      name: `batch ${bad} images`,
      request: { method: 'GET', path: `${Q}/batches/${bad}/images`, authorization },
      status: 404,
    });
    cases.push({
      category: 'path parameters',
      name: `test batch ${bad}`,
      request: { method: 'POST', path: `${Q}/batches/${bad}/test`, authorization },
      status: 404,
    });
  }
  cases.push({
    category: 'path parameters',
    name: 'batch that does not exist',
    request: { method: 'GET', path: `${Q}/batches/999999`, authorization },
    status: 404,
  });
  cases.push({
    category: 'path parameters',
    name: 'test of a batch that does not exist',
    request: { method: 'POST', path: `${Q}/batches/999999/test`, authorization },
    status: 404,
  });
  for (const space of ['x', '-1', '1.5', '99999999999999']) {
    cases.push({
      category: 'path parameters',
      name: `space ${space}`,
      request: { method: 'GET', path: `/customers/${customer}/spaces/${space}/images/a`, authorization },
      status: 404,
    });
  }
  for (const image of [
    '..',
    '%2e%2e',
    '..%2Fx',
    'a%2Fb',
    '%00',
    '%C0%AF',
    '%ZZ',
    '%F0%9F%98%80',
    'caf%C3%A9',
    'x'.repeat(1500),
    'x'.repeat(4000),
    '%E2%80%8F',
  ]) {
    cases.push({
      category: 'path parameters',
      name: `image ${image.slice(0, 20)}`,
      request: { method: 'GET', path: `/customers/${customer}/spaces/1/images/${image}`, authorization },
      status: 404,
    });
  }
  cases.push({
    category: 'path parameters',
    name: 'key that does not exist',
    request: { method: 'DELETE', path: `/customers/${customer}/keys/nosuchkey` },
    status: 404,
  });
  cases.push({
    category: 'path parameters',
    name: 'key with odd characters',
    request: { method: 'DELETE', path: `/customers/${customer}/keys/%00..%2F` },
    status: 404,
  });

  // Unknown paths.
  for (const path of [
    '/',
    '/customers',
    `/customers/${customer}`,
    `${Q}/unknown`,
    `${Q}/batches/1/images/extra`,
    `${Q}/batches/1/unknown`,
    '/queue/x',
    '/QUEUE',
    `/Customers/${customer}/queue`,
    `/customers/${customer}/spaces/1/images`,
    `/customers/${customer}/spaces/1`,
    '/favicon.ico',
    '/.env',
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    `/customers/${customer}/queue/priority/x`,
    '/admin',
    `/customers/${customer}/keys/a/b`,
  ]) {
    cases.push({ category: 'unknown path', name: `GET ${path}`, request: { method: 'GET', path, authorization }, status: 404 });
  }
  cases.push({
    category: 'unknown path',
    name: 'POST to an unknown path',
    request: { method: 'POST', path: `${Q}/nope`, headers: JSON_HEADERS, body: '{}', authorization },
    status: 404,
  });

  // Wrong methods (405 with Allow).
  const wrongMethods: Array<[string, string]> = [
    ['PUT', Q],
    ['DELETE', Q],
    ['PATCH', Q],
    ['OPTIONS', Q],
    ['GET', `${Q}/priority`],
    ['PUT', `${Q}/priority`],
    ['DELETE', `${Q}/priority`],
    ['POST', `${Q}/batches`],
    ['DELETE', `${Q}/batches`],
    ['POST', `${Q}/active`],
    ['POST', `${Q}/recent`],
    ['POST', `${Q}/images`],
    ['POST', `${Q}/batches/1`],
    ['PUT', `${Q}/batches/1`],
    ['POST', `${Q}/batches/1/images`],
    ['GET', `${Q}/batches/1/test`],
    ['GET', `${Q}/batches/1/retry`],
    ['DELETE', `${Q}/batches/1/retry`],
    ['POST', '/queue'],
    ['DELETE', '/queue'],
    ['POST', '/queue/load'],
    ['POST', '/queue/status'],
    ['PUT', `/customers/${customer}/keys`],
    ['POST', `/customers/${customer}/keys/k1`],
    ['POST', `/customers/${customer}/spaces/1/images/a`],
    ['DELETE', `/customers/${customer}/spaces/1/images/a`],
    ['POST', '/openapi.json'],
  ];
  for (const [method, path] of wrongMethods) {
    cases.push({
      category: 'wrong method',
      name: `${method} ${path}`,
      request: { method, path, authorization, ...(method === 'GET' || method === 'OPTIONS' ? {} : { headers: JSON_HEADERS, body: '{}' }) },
      status: 405,
      allow: true,
    });
  }

  // Paging on every collection route.
  const collections = [
    `${Q}/batches`,
    `${Q}/active`,
    `${Q}/recent`,
    `${Q}/images`,
    `${Q}/batches/1/images`,
    `${Q}/batches/1/completedImages`,
    `${Q}/batches/1/errorImages`,
  ];
  const badPaging = [
    'pageSize=0',
    'pageSize=-1',
    'pageSize=501',
    'pageSize=abc',
    'pageSize=1.5',
    'pageSize=',
    'pageSize=1e2',
    'pageSize=99999999999',
    'page=garbage!',
    'page=!!',
    'page=',
    `page=${'a'.repeat(3000)}`,
    'page=%00',
    'page=garbage',
  ];
  for (const path of collections) {
    for (const query of badPaging) {
      cases.push({
        category: 'paging',
        name: `${path.replace(Q, '…')}?${query.slice(0, 30)}`,
        request: { method: 'GET', path: `${path}?${query}`, authorization },
        status: customer === EMPTY_CUSTOMER && path.includes('/batches/1') ? 404 : 400,
      });
    }
  }
  // Forged tokens: well-formed base64url JSON that the API did not issue.
  const forged = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const forgeries: Array<[string, string]> = [
    ['[] token', forged([])],
    ['number token', forged(5)],
    ['object with a number', forged({ pk: 1 })],
    ['other customer partition', forged({ pk: `CUST#${customer + 1}`, sk: 'BATCH#000000000001' })],
    ['partition only', forged({ pk: `CUST#${customer}` })],
    ['sort key outside the collection', forged({ pk: `CUST#${customer}`, sk: 'QUEUE' })],
    ['extra attributes', forged({ pk: `CUST#${customer}`, sk: 'BATCH#000000000001', x: 'y' })],
  ];
  for (const [name, token] of forgeries) {
    cases.push({
      category: 'paging',
      name: `batches ?page= ${name}`,
      request: { method: 'GET', path: `${Q}/batches?page=${token}`, authorization },
      status: 400,
    });
  }
  cases.push({
    category: 'paging',
    name: 'active ?page= partition only',
    request: { method: 'GET', path: `${Q}/active?page=${forged({ gsi2pk: `CUST#${customer}#ACTIVE` })}`, authorization },
    status: 400,
  });
  cases.push({
    category: 'paging',
    name: 'recent ?page= partition only',
    request: { method: 'GET', path: `${Q}/recent?page=${forged({ gsi1pk: `CUST#${customer}#FINISHED` })}`, authorization },
    status: 400,
  });
  cases.push({
    category: 'paging',
    name: 'queue images ?page= other customer',
    request: { method: 'GET', path: `${Q}/images?page=${forged({ c: String(customer + 1), at: 'x' })}`, authorization },
    status: 400,
  });
  cases.push({
    category: 'paging',
    name: 'queue images ?page= without at',
    request: { method: 'GET', path: `${Q}/images?page=${forged({ c: String(customer) })}`, authorization },
    status: 400,
  });
  const batchPath = `${Q}/batches/${BUSY_BATCHES[0]}/images`;
  const noBatch = customer === EMPTY_CUSTOMER;
  cases.push({
    category: 'paging',
    name: 'batch images ?page= partition only',
    request: { method: 'GET', path: `${batchPath}?page=${forged({ pk: `CUST#${customer}#BATCH#000000000001` })}`, authorization },
    status: noBatch ? 404 : 400,
  });
  cases.push({
    category: 'paging',
    name: 'batch images ?page= another batch',
    request: {
      method: 'GET',
      path: `${batchPath}?page=${forged({ pk: `CUST#${customer}#BATCH#000000000002`, sk: 'M#000000' })}`,
      authorization,
    },
    status: noBatch ? 404 : 400,
  });
  // Real tokens (issued for customer BUSY_CUSTOMER) used on another collection or another customer.
  const foreign: Array<[string, string]> = [
    ['batches', `${Q}/active`],
    ['batches', `${Q}/recent`],
    ['batches', `${Q}/images`],
    ['batches', batchPath],
    ['queueImages', `${Q}/batches`],
    ['queueImages', `${Q}/active`],
    ['queueImages', batchPath],
    ['batchImages', `${Q}/batches`],
    ['batchImages', `${Q}/images`],
    ['batchImages', `${Q}/recent`],
    ['batchImages', `${Q}/batches/${BUSY_BATCHES[1]}/images`],
    ['batchImages', `${Q}/batches/${BUSY_BATCHES[2]}/completedImages`],
  ];
  if (customer === EMPTY_CUSTOMER) foreign.push(['batches', `${Q}/batches`], ['queueImages', `${Q}/images`]);
  for (const [from, path] of foreign) {
    const missingBatch = noBatch && path.includes('/batches/');
    cases.push({
      category: 'paging',
      name: `${from} token on ${path.replace(Q, '…')}`,
      request: { method: 'GET', path: `${path}?page=${token(from)}`, authorization },
      status: missingBatch ? 404 : 400,
    });
  }

  // Queue order.
  for (const order of ['sideways', 'ASC', 'DESC', '', 'asc,desc', '1', 'up']) {
    cases.push({
      category: 'queue order',
      name: `order=${order}`,
      request: { method: 'GET', path: `${Q}/images?order=${encodeURIComponent(order)}`, authorization },
      status: 400,
    });
  }
  cases.push({
    category: 'queue order',
    name: 'order=sideways with paging',
    request: { method: 'GET', path: `${Q}/images?order=sideways&pageSize=10`, authorization },
    status: 400,
  });

  return cases;
}

/** Header values must be latin-1 on the wire: non-ASCII keys are sent as their UTF-8 bytes. */
function encodeHeader(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

function encodePath(segment: string): string {
  return /^[\x21-\x7e]*$/.test(segment) ? segment : encodeURIComponent(segment);
}

// ---- setup --------------------------------------------------------------------------------------

async function ok(answer: Promise<Answer>, status: number, what: string): Promise<Answer> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what}: expected ${status}, got ${a.status} ${a.text.slice(0, 300)}`);
  return a;
}

function tokenOf(answer: Answer): string {
  const next = (JSON.parse(answer.text) as { view?: { next?: string } }).view?.next;
  if (!next) throw new Error(`no next link in ${answer.text.slice(0, 300)}`);
  return new URL(next).searchParams.get('page') ?? '';
}

beforeAll(async () => {
  const t0 = Date.now();
  runtime = await startLocalRuntime({
    // Many requests with one key: the per-key limits have a suite of their own (keys-and-limits).
    usageLimits: false,
    port: 0,
    env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES), MAX_BATCH_SIZE: String(MAX_BATCH_SIZE) },
    // Only the API: members stay waiting, nothing changes the table behind the corpus's back.
    pollers: false,
    schedules: false,
    // API Gateway's authorizer cache: one scrypt check per key instead of one per request.
    authorizerCacheTtlSeconds: 300,
    logger: process.env.HOSTILE_VERBOSE ? undefined : silentLogger,
  });
  if (process.env.HOSTILE_VERBOSE) console.log(`runtime started in ${Date.now() - t0} ms`);
  const key = await ok(send({ method: 'POST', path: `/customers/${BUSY_CUSTOMER}/keys` }), 201, 'creating a key');
  const pair = JSON.parse(key.text) as { key: string; secret: string };
  busyKey = `Basic ${Buffer.from(`${pair.key}:${pair.secret}`).toString('base64')}`;
  const Q = `/customers/${BUSY_CUSTOMER}/queue`;
  const seeded: number[] = [];
  for (const [path, ids] of [
    [Q, ['a', 'b', 'c']],
    [`${Q}/priority`, ['d', 'e']],
    [Q, ['a', 'f']],
  ] as const) {
    const created = await ok(
      send({ method: 'POST', path, headers: JSON_HEADERS, body: collection(ids.map((id) => member(id))), authorization: busyKey }),
      201,
      'seeding a batch',
    );
    seeded.push((JSON.parse(created.text) as { id: number }).id);
  }
  expect(seeded).toEqual(BUSY_BATCHES);
  tokens.batches = tokenOf(await ok(send({ method: 'GET', path: `${Q}/batches?pageSize=1` }), 200, 'batches page'));
  tokens.queueImages = tokenOf(await ok(send({ method: 'GET', path: `${Q}/images?pageSize=1` }), 200, 'queue images page'));
  tokens.batchImages = tokenOf(
    await ok(send({ method: 'GET', path: `${Q}/batches/${BUSY_BATCHES[0]}/images?pageSize=1` }), 200, 'batch images page'),
  );
  if (process.env.HOSTILE_VERBOSE) console.log(`set up in ${Date.now() - t0} ms`);
});

afterAll(async () => {
  await runtime?.stop();
});

// ---- the corpus, on each customer ---------------------------------------------------------------

const targets = [
  { label: 'customer without data (admin key)', customer: EMPTY_CUSTOMER, auth: () => ADMIN },
  { label: 'customer with batches (its own key)', customer: BUSY_CUSTOMER, auth: () => busyKey },
];

describe.each(targets)('hostile input on a $label', ({ customer, auth }) => {
  let before = '';
  const results: Array<{ c: Case; answer: Answer }> = [];

  beforeAll(async () => {
    const t0 = Date.now();
    before = await tableSnapshot(runtime!);
    const cases = corpus(customer, auth());
    // A few at a time: quick, and still far from the emulators' limits.
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as Case;
          const started = Date.now();
          const answer = await send(c.request);
          results.push({ c, answer });
          if (process.env.HOSTILE_VERBOSE && (Date.now() - started > 300 || answer.status >= 500)) {
            console.log(`${c.name}: ${answer.status} in ${Date.now() - started} ms`);
          }
        }
      }),
    );
    if (process.env.HOSTILE_VERBOSE) console.log(`customer ${customer}: ${cases.length} requests in ${Date.now() - t0} ms`);
  });

  it('has a corpus of at least 200 cases in every category', () => {
    const cases = corpus(customer, 'x');
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const counts: Record<string, number> = {};
    for (const c of cases) counts[c.category] = (counts[c.category] ?? 0) + 1;
    if (process.env.HOSTILE_VERBOSE) console.log(`customer ${customer}: ${cases.length} cases`, counts);
    expect(Object.keys(counts).length).toBe(19);
  });

  it('answers every case with the expected JSON error', () => {
    const failures: string[] = [];
    for (const { c, answer } of results) {
      try {
        const body = expectJsonError(answer, c.status, `[${c.category}] ${c.name}`);
        if (c.errors) {
          const got = (body.errors ?? []).map((e) => `${e.member}:${e.field}`).sort();
          const want = c.errors.map(([m, f]) => `${m}:${f}`).sort();
          expect({ case: c.name, errors: got }).toEqual({ case: c.name, errors: want });
          for (const e of body.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
        }
        if (c.status === 422 && !c.errors) expect(body.errors).toBeUndefined();
        if (c.allow) expect(String(answer.headers.allow ?? '')).toMatch(/GET|POST|DELETE/);
        if (c.status === 413) expect(body.detail).toContain(String(MAX_BODY_BYTES));
      } catch (error) {
        failures.push(`[${c.category}] ${c.name}: ${(error as Error).message.split('\n').slice(0, 12).join(' ')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('wrote nothing', async () => {
    expect(results.length).toBe(corpus(customer, 'x').length);
    expect(await tableSnapshot(runtime!)).toBe(before);
  });

  it('left the customer without data without any item', async () => {
    if (customer !== EMPTY_CUSTOMER) return;
    expect(await tableSnapshot(runtime!)).not.toContain(`CUST#${EMPTY_CUSTOMER}`);
  });
});

// ---- property-based fuzzing ---------------------------------------------------------------------

describe('fuzzing (fast-check)', () => {
  const params = { numRuns: FC_RUNS, seed: FC_SEED, verbose: 1 } as const;
  let baseline = '';

  beforeAll(async () => {
    baseline = await tableSnapshot(runtime!);
  });

  /** < 500; a JSON error when ≥ 400; the table unchanged unless the answer was a successful submit. */
  async function check(req: RawRequest, label: string): Promise<Answer> {
    const answer = await send(req);
    if (answer.status >= 500) throw new Error(`${label}: ${answer.status} ${answer.text.slice(0, 300)}`);
    if (answer.status >= 400) expectJsonError(answer, answer.status, label);
    const after = await tableSnapshot(runtime!);
    if (answer.status === 201 && req.method === 'POST' && /^\/customers\/\d+\/queue(\/priority)?$/.test(req.path)) {
      // A valid submit (the generators make these practically impossible): its writes are expected.
      baseline = after;
    } else if (after !== baseline) {
      throw new Error(`${label}: ${req.method} ${req.path} answered ${answer.status} and changed the table`);
    }
    return answer;
  }

  it('arbitrary JSON values as submit bodies', async () => {
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.jsonValue().map((v) => JSON.stringify({ member: v })),
      fc.array(fc.jsonValue(), { maxLength: 5 }).map((m) => JSON.stringify({ member: m })),
      fc.string({ unit: 'binary' }),
    );
    await fc.assert(
      fc.asyncProperty(
        bodies,
        fc.constantFrom('application/json', 'application/ld+json', 'text/plain', 'application/json; charset=utf-8'),
        async (body, type) => {
          await check(
            { method: 'POST', path: `/customers/${EMPTY_CUSTOMER + 10}/queue`, headers: { 'Content-Type': type }, body },
            `body ${body.slice(0, 80)}`,
          );
        },
      ),
      params,
    );
  });

  it('members with wrong-typed fields are refused with every bad member listed', async () => {
    const anything = fc.oneof(fc.jsonValue(), fc.string({ unit: 'grapheme' }), fc.double(), fc.constant(null));
    const wrongMember = fc
      .record(
        {
          id: fc.oneof(anything, fc.constantFrom('ok', 'a.b', 'x'.repeat(200))),
          space: fc.oneof(anything, fc.integer({ min: 0, max: 5 })),
          origin: fc.oneof(anything, fc.constant('https://example.org/a.jpg')),
          mediaType: anything,
          family: anything,
          string1: anything,
          number1: anything,
          tags: anything,
          roles: anything,
          maxUnauthorised: anything,
        },
        { requiredKeys: [] },
      )
      // At least one field is certainly wrong: a non-string id (valid ids are strings).
      .map((m) => ({ ...m, id: typeof m.id === 'string' ? 7 : m.id }));
    const members = fc.array(fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: wrongMember }), {
      minLength: 1,
      maxLength: 8,
    });
    await fc.assert(
      fc.asyncProperty(members, fc.boolean(), async (list, priority) => {
        const path = `/customers/${EMPTY_CUSTOMER + 11}/queue${priority ? '/priority' : ''}`;
        const answer = await check(
          { method: 'POST', path, headers: JSON_HEADERS, body: JSON.stringify({ member: list }) },
          `members ${JSON.stringify(list).slice(0, 200)}`,
        );
        expect(answer.status).toBe(422);
        const listed = new Set((JSON.parse(answer.text) as ErrorBody).errors?.map((e) => e.member));
        expect([...listed].sort((a, b) => a - b)).toEqual(list.map((_, i) => i));
      }),
      params,
    );
  });

  it('arbitrary strings in path segments and query parameters', async () => {
    // Every route except those that write on success (key creation, batch test, submit with a body).
    const routes = ROUTES.filter((r) => !(r.method === 'POST' && (r.fn === 'api-keys' || r.fn === 'api-test-batch')));
    const segment = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent),
      fc.stringMatching(/^[0-9]{0,25}$/),
      fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ZZ', '%C0%AF', '-1', '1.5', '0', String(BUSY_CUSTOMER), '1', '1e3'),
      fc.string({ unit: fc.constantFrom('a', '%', '/', '.', '?', '#', '&', '=', '0', ';', '\\'), maxLength: 12 }),
    );
    const query = fc.dictionary(
      fc.constantFrom('page', 'pageSize', 'order', 'started', 'ended', 'customer', 'queue', 'x'),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      { maxKeys: 3 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(segment, { minLength: 5, maxLength: 5 }),
        query,
        fc.boolean(),
        async (route, segments, q, asAdmin) => {
          let i = 0;
          const path = route.resource.replace(/\{[^}]+\}/g, () => segments[i++] || 'x');
          const qs = new URLSearchParams(q).toString();
          const req: RawRequest = {
            method: route.method,
            path: qs ? `${path}?${qs}` : path,
            authorization: asAdmin ? ADMIN : busyKey,
            ...(route.method === 'POST' ? { headers: JSON_HEADERS, body: '{"member":[]}' } : {}),
          };
          await check(req, `${req.method} ${req.path}`);
        },
      ),
      params,
    );
  });

  it('wrote nothing outside successful submits', async () => {
    expect(await tableSnapshot(runtime!)).toBe(baseline);
  });
});
