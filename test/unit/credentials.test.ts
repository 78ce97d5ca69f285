import { newKeyPair } from '../../lambdas/domain/auth';
import { parseCredentials } from '../../lambdas/http/credentials';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const basic = (pair: string) => `Basic ${b64(pair)}`;

describe('parseCredentials', () => {
  it.each([
    ['Basic', basic('k123:s3cret'), { key: 'k123', secret: 's3cret' }],
    ['Basic, lower-case scheme', `basic ${b64('k123:s3cret')}`, { key: 'k123', secret: 's3cret' }],
    ['Basic, secret with colons', basic('admin:a:b:c'), { key: 'admin', secret: 'a:b:c' }],
    ['Basic, unpadded base64', `Basic ${b64('ab:c').replace(/=+$/, '')}`, { key: 'ab', secret: 'c' }],
    ['Basic, url-safe key chars', basic('K_a-9:x'), { key: 'K_a-9', secret: 'x' }],
    ['Bearer key:secret', 'Bearer k123:s3cret', { key: 'k123', secret: 's3cret' }],
    ['Bearer base64(key:secret)', `Bearer ${b64('k123:s3cret')}`, { key: 'k123', secret: 's3cret' }],
    ['BEARER upper-case scheme', 'BEARER k1:s', { key: 'k1', secret: 's' }],
    ['surrounding whitespace', `  Basic ${b64('k1:s')}  `, { key: 'k1', secret: 's' }],
  ])('accepts %s', (_name, header, expected) => {
    expect(parseCredentials(header)).toEqual(expected);
  });

  it.each([
    ['undefined', undefined],
    ['empty', ''],
    ['scheme only', 'Basic'],
    ['scheme and blank', 'Basic   '],
    ['malformed base64 (bad chars)', 'Basic !!!!'],
    ['malformed base64 (one char left over)', 'Basic QUJDR'],
    ['malformed base64 (bad padding)', 'Basic QQ='],
    ['mixed base64 alphabets', 'Basic ab+_'],
    ['base64 of invalid UTF-8', `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x61]).toString('base64')}`],
    ['missing colon', basic('k123s3cret')],
    ['empty key', basic(':secret')],
    ['empty secret', basic('k123:')],
    ['empty both', basic(':')],
    ['key with invalid characters', basic('k.1:secret')],
    ['key too long', basic(`${'k'.repeat(65)}:secret`)],
    ['secret too long', basic(`k1:${'s'.repeat(257)}`)],
    ['control character in secret', basic('k1:a\nb')],
    ['Bearer missing colon', 'Bearer justatoken'],
    ['Bearer empty secret', 'Bearer k1:'],
    ['Bearer empty key', 'Bearer :s'],
    ['Digest scheme', 'Digest username="k1"'],
    ['Token scheme', 'Token k1:s'],
    ['no scheme', b64('k1:s')],
    ['extra parts', `Basic ${b64('k1:s')} extra`],
  ])('rejects %s', (_name, header) => {
    expect(parseCredentials(header)).toBeUndefined();
  });
});

describe('parseCredentials of a new key pair', () => {
  it('yields pairs that parse back from both header forms', () => {
    const pair = newKeyPair();
    expect(parseCredentials(basic(`${pair.key}:${pair.secret}`))).toEqual(pair);
    expect(parseCredentials(`Bearer ${pair.key}:${pair.secret}`)).toEqual(pair);
  });
});
