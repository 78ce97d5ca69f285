/**
 * lambdas/http/request-bodies.ts: the Content-Type rule (415) and parsing the collection (400); and
 * lambdas/domain/validation.ts: the per-member rules (422 once mapped at the edge, with every
 * problem listed as {member, field, message}).
 */
import fc from 'fast-check';
import type { MemberProblem } from '../../lambdas/domain/errors';
import { validateMembers } from '../../lambdas/domain/validation';
import { toHttpError } from '../../lambdas/http/domain-errors';
import type { HttpError } from '../../lambdas/http/problem';
import { requireJsonBody, requireJsonContentType } from '../../lambdas/http/request-bodies';
import { parseCollection } from '../../lambdas/http/submit-body';

const valid = (extra: Record<string, unknown> = {}) => ({ id: 'img-1', space: 1, origin: 'https://example.org/a.jpg', ...extra });

/** Runs `fn` and returns what it throws as the client sees it (fails if it does not throw a client error). */
function httpError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    const answered = toHttpError(error);
    if (answered) return answered;
    throw error;
  }
  throw new Error('expected an HttpError');
}

/** The problems of a 422. */
function problems(members: unknown[], max = 100): MemberProblem[] {
  const error = httpError(() => validateMembers(members, max));
  expect(error.statusCode).toBe(422);
  return error.options.errors ?? [];
}

/** The problems of one member submitted alone, as `field: message`. */
function problemsOf(member: unknown): string[] {
  return problems([member]).map((p) => `${p.field}: ${p.message}`);
}

describe('requireJsonContentType', () => {
  it.each([
    'application/json',
    'application/ld+json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    ' application/json ',
    'application/ld+json;profile="x"',
  ])('accepts %j', (type) => {
    expect(() => requireJsonContentType(type)).not.toThrow();
  });

  it.each([
    'text/plain',
    'application/xml',
    'multipart/form-data; boundary=x',
    'application/jsonx',
    'json',
    'application/problem+json',
    '',
    'application/ json',
    '*/*',
  ])('refuses %j with 415', (type) => {
    const error = httpError(() => requireJsonContentType(type));
    expect(error.statusCode).toBe(415);
    expect(error.message).toContain('application/json');
  });

  it('refuses a missing header with 415 and names the type it got otherwise', () => {
    expect(httpError(() => requireJsonContentType(undefined)).statusCode).toBe(415);
    expect(httpError(() => requireJsonContentType('text/plain')).message).toContain("'text/plain'");
    // An absurdly long header is not echoed in full.
    expect(httpError(() => requireJsonContentType(`text/${'x'.repeat(10_000)}`)).message.length).toBeLessThan(300);
  });

  it('holds for any body sent, and for a required body even when none is', () => {
    const request = (body: string | undefined, headers: Record<string, string> = {}) => ({ body, headers });
    expect(() => requireJsonBody('optional', request(undefined))).not.toThrow();
    expect(() => requireJsonBody('optional', request(''))).not.toThrow();
    expect(httpError(() => requireJsonBody('optional', request('{}', { 'content-type': 'text/plain' }))).statusCode).toBe(415);
    expect(() => requireJsonBody('optional', request('{}', { 'content-type': 'application/json' }))).not.toThrow();
    expect(httpError(() => requireJsonBody('required', request(undefined))).statusCode).toBe(415);
  });
});

describe('parseCollection', () => {
  it('returns the member array', () => {
    expect(parseCollection('{"member":[1,{"a":2}]}')).toEqual([1, { a: 2 }]);
    expect(parseCollection(JSON.stringify({ '@context': 'x', '@type': 'Collection', member: [] }))).toEqual([]);
  });

  it.each([undefined, '', '   ', '\n'])('refuses an empty body %j with 400', (body) => {
    const error = httpError(() => parseCollection(body));
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/empty/);
  });

  it.each([
    '{',
    '{"member":[}',
    "{'member':[]}",
    '{"member":[1,]}',
    'nul',
    '\uFEFF{"member":[]}',
    '{"member":[]} x',
    '{"member":["\u0001"]}',
  ])('refuses malformed JSON %j with 400', (body) => {
    const error = httpError(() => parseCollection(body));
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/not valid JSON/);
    expect(error.message.length).toBeLessThan(300);
  });

  it.each(['[]', '"x"', '1', 'null', 'true', '[{"member":[]}]'])('refuses non-object JSON %s with 400', (body) => {
    const error = httpError(() => parseCollection(body));
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/JSON object/);
  });

  it.each(['{}', '{"member":null}', '{"member":{}}', '{"member":"[]"}', '{"members":[]}', '{"member":1}'])(
    'refuses %s (no member array) with 400',
    (body) => {
      const error = httpError(() => parseCollection(body));
      expect(error.statusCode).toBe(400);
      expect(error.message).toMatch(/"member" array/);
    },
  );

  it('copes with very deep nesting (400 or the array, never a crash)', () => {
    const depth = 100_000;
    expect(httpError(() => parseCollection('['.repeat(depth) + ']'.repeat(depth))).statusCode).toBe(400);
    expect(parseCollection(`{"member":${'['.repeat(depth)}${']'.repeat(depth)}}`)).toHaveLength(1);
  });

  it('keeps a member named __proto__ as data', () => {
    const [member] = parseCollection('{"member":[{"__proto__":{"polluted":1},"id":"a"}]}') as Array<Record<string, unknown>>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(member!, '__proto__')).toBe(true);
  });
});

describe('validateMembers: limits', () => {
  it('refuses an empty collection with 422 and no per-member list', () => {
    const error = httpError(() => validateMembers([], 10));
    expect(error.statusCode).toBe(422);
    expect(error.message).toMatch(/no members/);
    expect(error.options.errors).toBeUndefined();
  });

  it('accepts exactly the maximum and refuses one more with 422 naming both numbers', () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => valid({ id: `m${i}` }));
    expect(validateMembers(members(5), 5)).toHaveLength(5);
    const error = httpError(() => validateMembers(members(6), 5));
    expect(error.statusCode).toBe(422);
    expect(error.message).toContain('6');
    expect(error.message).toContain('5');
  });

  it('checks the count before looking at the members', () => {
    const error = httpError(() => validateMembers([1, 2, 3], 2));
    expect(error.options.errors).toBeUndefined();
  });

  it('lists at most 1000 problems and says so', () => {
    const error = httpError(() =>
      validateMembers(
        Array.from({ length: 400 }, () => ({})),
        1000,
      ),
    );
    expect(error.options.errors).toHaveLength(1000);
    expect(error.message).toMatch(/^1200 problems/);
    expect(error.message).toMatch(/first 1000 are listed/);
  });
});

describe('validateMembers: accepted members', () => {
  it('returns the assets with only the known fields, dropping unknown and absent ones', () => {
    const full = {
      id: 'A-z_0.9~x',
      space: 0,
      origin: 'http://example.org/a.jpg?x=1#f',
      mediaType: 'image/jpeg',
      family: 'T',
      string1: '',
      string2: 's2',
      string3: 'x'.repeat(1024),
      number1: -5,
      number2: 0,
      number3: Number.MAX_SAFE_INTEGER,
      tags: [],
      roles: ['r'],
      maxUnauthorised: -1,
    };
    expect(validateMembers([{ ...full, width: 5, batch: 'x', '@type': 'vocab:Image' }], 10)).toEqual([full]);
    const [minimal] = validateMembers([valid({ mediaType: undefined })], 10);
    expect(minimal).toEqual(valid());
    expect(Object.keys(minimal as object)).toEqual(['id', 'space', 'origin']);
  });

  it.each([
    ['id of 200 characters', { id: 'x'.repeat(200) }],
    ['id with dots among other characters', { id: '.a.' }],
    ['id ~', { id: '~' }],
    ['space 2^31 - 1', { space: 2_147_483_647 }],
    ['https origin with port and IPv6 host', { origin: 'https://[::1]:8443/a' }],
    ['origin of 2048 characters', { origin: `https://e.org/${'a'.repeat(2048 - 14)}` }],
    ['50 tags of 200 characters', { tags: Array(50).fill('t'.repeat(200)) }],
    ['20 roles', { roles: Array(20).fill('r') }],
    ['family I / T / F', { family: 'F' }],
    ['mediaType with a suffix', { mediaType: 'application/vnd.x+json' }],
  ])('accepts %s', (_name, extra) => {
    expect(validateMembers([valid(extra)], 10)).toHaveLength(1);
  });

  it('accepts the same id in different spaces, and different ids in one space', () => {
    expect(validateMembers([valid({ space: 1 }), valid({ space: 2 }), valid({ id: 'other' })], 10)).toHaveLength(3);
  });
});

describe('validateMembers: each rule and its message', () => {
  it.each<[string, unknown, string[]]>([
    // id
    ['id missing', { space: 1, origin: 'https://e.org/a' }, ['id: is required']],
    ['id number', valid({ id: 5 }), ['id: must be a string, not a number']],
    ['id null', valid({ id: null }), ['id: must be a string, not null']],
    ['id array', valid({ id: ['a'] }), ['id: must be a string, not an array']],
    ['id object', valid({ id: {} }), ['id: must be a string, not an object']],
    ['id boolean', valid({ id: true }), ['id: must be a string, not a boolean']],
    ['id empty', valid({ id: '' }), ['id: must be 1–200 characters of A–Z, a–z, 0–9, ".", "_", "~" or "-"']],
    ['id 201 characters', valid({ id: 'x'.repeat(201) }), ['id: must be 1–200 characters of A–Z, a–z, 0–9, ".", "_", "~" or "-"']],
    ['id ".."', valid({ id: '..' }), ['id: must not consist only of dots']],
    ['id "."', valid({ id: '.' }), ['id: must not consist only of dots']],
    // space
    ['space missing', { id: 'a', origin: 'https://e.org/a' }, ['space: is required']],
    ['space string', valid({ space: '1' }), ['space: must be a number, not a string']],
    ['space null', valid({ space: null }), ['space: must be a number, not null']],
    ['space float', valid({ space: 1.5 }), ['space: must be an integer']],
    ['space negative', valid({ space: -1 }), ['space: must be ≥ 0']],
    ['space 2^31', valid({ space: 2 ** 31 }), ['space: is too large']],
    ['space Infinity (JSON 1e400)', valid({ space: JSON.parse('1e400') }), ['space: must be a finite number']],
    // origin
    ['origin missing', { id: 'a', space: 1 }, ['origin: is required']],
    ['origin number', valid({ origin: 5 }), ['origin: must be a string, not a number']],
    ['origin not a URL', valid({ origin: 'not a url' }), ['origin: must be an absolute http or https URL']],
    ['origin ftp', valid({ origin: 'ftp://e.org/a' }), ['origin: must be an absolute http or https URL']],
    ['origin javascript:', valid({ origin: 'javascript:alert(1)' }), ['origin: must be an absolute http or https URL']],
    ['origin relative', valid({ origin: '/a.jpg' }), ['origin: must be an absolute http or https URL']],
    ['origin with a space', valid({ origin: 'https://e.org/a b' }), ['origin: must be an absolute http or https URL']],
    ['origin with a NUL', valid({ origin: 'https://e.org/\u0000' }), ['origin: must be an absolute http or https URL']],
    ['origin with a newline', valid({ origin: 'https://e.org/\n' }), ['origin: must be an absolute http or https URL']],
    ['origin with DEL', valid({ origin: 'https://e.org/\u007f' }), ['origin: must be an absolute http or https URL']],
    ['origin without host', valid({ origin: 'http://' }), ['origin: must be an absolute http or https URL']],
    ['origin too long', valid({ origin: `https://e.org/${'a'.repeat(2048)}` }), ['origin: must be at most 2048 characters']],
    // optional fields
    ['mediaType without subtype', valid({ mediaType: 'image' }), ['mediaType: must be a media type such as image/jpeg']],
    ['mediaType with parameters', valid({ mediaType: 'image/jpeg; q=1' }), ['mediaType: must be a media type such as image/jpeg']],
    ['mediaType number', valid({ mediaType: 5 }), ['mediaType: must be a string, not a number']],
    ['family X', valid({ family: 'X' }), ['family: must be one of I, T, F']],
    ['family lower case', valid({ family: 'i' }), ['family: must be one of I, T, F']],
    ['string1 number', valid({ string1: 1 }), ['string1: must be a string, not a number']],
    ['string2 too long', valid({ string2: 'x'.repeat(1025) }), ['string2: must be at most 1024 characters']],
    ['number1 string', valid({ number1: '1' }), ['number1: must be a number, not a string']],
    ['number2 float', valid({ number2: 0.5 }), ['number2: must be an integer']],
    ['number3 unsafe integer', valid({ number3: 2 ** 60 }), ['number3: must be an integer']],
    ['tags string', valid({ tags: 'a' }), ['tags: must be an array, not a string']],
    [
      'tags with numbers',
      valid({ tags: ['a', 1, 2] }),
      ['tags.1: must be a string, not a number', 'tags.2: must be a string, not a number'],
    ],
    ['tags too many', valid({ tags: Array(51).fill('t') }), ['tags: must have at most 50 entries']],
    ['tag too long', valid({ tags: ['x'.repeat(201)] }), ['tags.0: must be at most 200 characters']],
    ['roles object', valid({ roles: { a: 1 } }), ['roles: must be an array, not an object']],
    ['roles too many', valid({ roles: Array(21).fill('r') }), ['roles: must have at most 20 entries']],
    ['role too long', valid({ roles: ['x'.repeat(501)] }), ['roles.0: must be at most 500 characters']],
    ['maxUnauthorised float', valid({ maxUnauthorised: 1.5 }), ['maxUnauthorised: must be an integer']],
    ['maxUnauthorised below -1', valid({ maxUnauthorised: -2 }), ['maxUnauthorised: must be ≥ -1']],
    ['maxUnauthorised string', valid({ maxUnauthorised: '5' }), ['maxUnauthorised: must be a number, not a string']],
  ])('%s', (_name, member, expected) => {
    expect(problemsOf(member).sort()).toEqual([...expected].sort());
  });

  it.each(['é', '😀', '\u0000', '\n', 'a b', '\u200f', '\u200b', '../x', 'a/b', '%2e%2e', 'a?b', '<x>'])('refuses the id %j', (id) => {
    expect(problemsOf(valid({ id }))).toEqual(['id: must be 1–200 characters of A–Z, a–z, 0–9, ".", "_", "~" or "-"']);
  });

  it.each([null, 1, 'a', [], true])('refuses a member that is %j, not an object', (member) => {
    expect(problems([valid(), member])).toEqual([{ member: 1, field: '', message: 'must be a JSON object (a vocab:Image)' }]);
  });
});

describe('validateMembers: every problem listed', () => {
  it('lists every problem of every member with its index, and names the count', () => {
    const error = httpError(() =>
      validateMembers([valid({ id: 'ok' }), {}, valid({ id: 'b', space: -1, family: 'Q' }), valid({ id: 'c' }), 'x'], 10),
    );
    expect(error.statusCode).toBe(422);
    expect(error.message).toMatch(/^6 problems in the submitted members; nothing was queued\.$/);
    expect(error.options.errors).toEqual([
      { member: 1, field: 'id', message: 'is required' },
      { member: 1, field: 'space', message: 'is required' },
      { member: 1, field: 'origin', message: 'is required' },
      { member: 2, field: 'space', message: 'must be ≥ 0' },
      { member: 2, field: 'family', message: 'must be one of I, T, F' },
      { member: 4, field: '', message: 'must be a JSON object (a vocab:Image)' },
    ]);
  });

  it('says "1 problem" in the singular', () => {
    expect(httpError(() => validateMembers([{ ...valid(), space: 'x' }], 10)).message).toMatch(/^1 problem in/);
  });
});

describe('validateMembers: duplicates', () => {
  it('lists each later copy of the same space and id, naming the first', () => {
    expect(
      problems([valid({ id: 'd' }), valid({ id: 'e' }), valid({ id: 'd' }), valid({ id: 'd', origin: 'https://other.org/x' })]),
    ).toEqual([
      { member: 2, field: 'id', message: "duplicates member 0 (space 1, id 'd')" },
      { member: 3, field: 'id', message: "duplicates member 0 (space 1, id 'd')" },
    ]);
  });

  it('reports duplicates together with the other problems', () => {
    expect(problems([valid({ id: 'd' }), { id: 5 }, valid({ id: 'd' })]).map((p) => `${p.member}:${p.field}`)).toEqual([
      '1:id',
      '1:space',
      '1:origin',
      '2:id',
    ]);
  });

  it('does not count an invalid member as the first copy', () => {
    // Member 0 is invalid (bad origin), so member 1 is the first valid 'd' and member 2 duplicates it.
    expect(problems([valid({ id: 'd', origin: 'x' }), valid({ id: 'd' }), valid({ id: 'd' })])).toEqual([
      { member: 0, field: 'origin', message: 'must be an absolute http or https URL' },
      { member: 2, field: 'id', message: "duplicates member 1 (space 1, id 'd')" },
    ]);
  });

  it('treats ids as case-sensitive', () => {
    expect(validateMembers([valid({ id: 'A' }), valid({ id: 'a' })], 10)).toHaveLength(2);
  });
});

describe('validateMembers: properties', () => {
  const params = { numRuns: 500, seed: Number(process.env.FC_SEED ?? 7) };

  it('either returns every member or throws a 422 whose problems name only real indexes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.jsonValue(), fc.record({ id: fc.string(), space: fc.integer(), origin: fc.webUrl() })), { maxLength: 20 }),
        (members) => {
          try {
            expect(validateMembers(members, 20)).toHaveLength(members.length);
          } catch (thrown) {
            const error = toHttpError(thrown);
            if (!error) throw thrown;
            expect(error.statusCode).toBe(422);
            for (const p of error.options.errors ?? []) {
              expect(p.member).toBeGreaterThanOrEqual(0);
              expect(p.member).toBeLessThan(members.length);
              expect(p.message.length).toBeGreaterThan(0);
            }
            if (members.length > 0) expect((error.options.errors ?? []).length).toBeGreaterThan(0);
          }
        },
      ),
      params,
    );
  });

  it('accepts every well-formed member', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._~-]{1,200}$/).filter((s) => !/^\.+$/.test(s));
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ id, space: fc.integer({ min: 0, max: 2_147_483_647 }), origin: fc.webUrl({ validSchemes: ['http', 'https'] }) }),
          {
            selector: (m) => `${m.space}/${m.id}`,
            minLength: 1,
            maxLength: 20,
          },
        ),
        (members) => {
          expect(validateMembers(members, 20)).toEqual(members);
        },
      ),
      params,
    );
  });
});
