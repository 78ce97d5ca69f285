/** The CLI's input parsing: JSON collections, CSVs and URL lists become the members it POSTs. */
import { CliError } from '../../cli/src/errors';
import { detectFormat, idFromUrl, parseMembers, UniqueIds } from '../../cli/src/input';

describe('detectFormat', () => {
  test.each([
    ['{"@type":"Collection","member":[]}', 'json'],
    ['\uFEFF  {"member":[]}', 'json'],
    ['id,space,origin\na,1,https://x.org/a.jpg', 'csv'],
    ['"origin","id"\nhttps://x.org/a.jpg,a', 'csv'],
    ['https://x.org/a.jpg\nhttps://x.org/b.jpg', 'urls'],
  ])('%j is %s', (content, format) => {
    expect(detectFormat(content)).toBe(format);
  });
});

describe('parseMembers', () => {
  test('a hydra collection passes its members through unchanged', () => {
    // Prepare
    const member = [{ id: 'a', space: 2, origin: 'https://x.org/a.jpg', tags: ['t'] }];

    // Act
    const { format, members } = parseMembers(JSON.stringify({ '@type': 'Collection', member }), 1);

    // Assess
    expect(format).toBe('json');
    expect(members).toEqual(member);
  });

  test('JSON without a member array, or not JSON at all, is a usage error', () => {
    expect(() => parseMembers('{"items":[]}', 1)).toThrow(/hydra collection/);
    expect(() => parseMembers('{"member":', 1)).toThrow(CliError);
  });

  test('a CSV gives numbers for the number fields, lists for tags and roles, and omits empty cells', () => {
    const csv = [
      'id,space,origin,mediaType,family,string1,number1,number2,tags,roles,maxUnauthorised',
      'a,3,https://x.org/a.jpg,image/jpeg,I,book-7,12,,"cover,front",,400',
      'b,,https://x.org/b.png,,,,-4,0,,reader,',
    ].join('\n');

    const { format, members } = parseMembers(csv, 9);

    expect(format).toBe('csv');
    expect(members).toEqual([
      {
        id: 'a',
        space: 3,
        origin: 'https://x.org/a.jpg',
        mediaType: 'image/jpeg',
        family: 'I',
        string1: 'book-7',
        number1: 12,
        tags: ['cover', 'front'],
        maxUnauthorised: 400,
      },
      { id: 'b', space: 9, origin: 'https://x.org/b.png', number1: -4, number2: 0, roles: ['reader'] },
    ]);
  });

  test('a CSV with an unknown column or a non-integer number names the problem', () => {
    expect(() => parseMembers('id,space,origin,colour\na,1,https://x.org/a.jpg,red', 1)).toThrow(/Unknown CSV column\(s\) colour/);
    expect(() => parseMembers('id,space,origin\na,one,https://x.org/a.jpg', 1)).toThrow(/line 2: space must be an integer/);
  });

  test('a URL list derives unique ids from the last path segment and takes the given space', () => {
    const list = [
      '# scanned pages',
      'https://x.org/books/p%201.jpg',
      '',
      'https://y.org/p 1.jpg?x=1'.replace(' ', '%20'),
      'http://z.org/',
    ].join('\n');

    const { format, members } = parseMembers(list, 4);

    expect(format).toBe('urls');
    expect(members).toEqual([
      { id: 'p-1.jpg', space: 4, origin: 'https://x.org/books/p%201.jpg' },
      { id: 'p-1.jpg-2', space: 4, origin: 'https://y.org/p%201.jpg?x=1' },
      { id: 'image', space: 4, origin: 'http://z.org/' },
    ]);
  });

  test('a line of a URL list that is not a URL, or an empty file, is a usage error', () => {
    expect(() => parseMembers('https://x.org/a.jpg\nftp://x.org/b.jpg', 1)).toThrow(/Line 2 is not an http\(s\) URL/);
    expect(() => parseMembers('\n# nothing\n', 1)).toThrow(/no images/);
  });
});

describe('ids from URLs', () => {
  test('only characters the API allows, at most 200 of them', () => {
    expect(idFromUrl('https://x.org/a/%C3%A9t%C3%A9(1).tif')).toBe('t-1-.tif');
    expect(idFromUrl(`https://x.org/${'a'.repeat(300)}`)).toHaveLength(200);
  });

  test('a suffix keeps a long id within 200 characters', () => {
    const ids = new UniqueIds();
    const long = 'b'.repeat(200);

    expect(ids.claim(long)).toBe(long);
    expect(ids.claim(long)).toBe(`${'b'.repeat(198)}-2`);
    expect(ids.claim(long)).toBe(`${'b'.repeat(198)}-3`);
  });
});
