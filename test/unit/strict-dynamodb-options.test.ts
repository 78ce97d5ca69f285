/** STRICT_DYNAMODB parsing (local/strict-dynamodb/options.ts): pure, no DynamoDB Local needed. */
import { DEFAULT_STRICT_OPTIONS, STRICT_DYNAMODB_ENV, strictOptionsFromEnv } from '../../local/strict-dynamodb/options';

describe('strictOptionsFromEnv', () => {
  it('is on with the defaults unless switched off', () => {
    for (const value of [undefined, '', ' on ', 'ON', 'true', '1']) {
      expect(strictOptionsFromEnv(value)).toEqual(DEFAULT_STRICT_OPTIONS);
    }
    for (const value of ['off', 'OFF', 'false', '0']) expect(strictOptionsFromEnv(value)).toBeUndefined();
    expect(DEFAULT_STRICT_OPTIONS).toEqual({
      conflictWindowMs: 20,
      writeUnitsPerKey: 1000,
      readUnitsPerKey: 3000,
      gsiLagMs: 100,
      throttleRate: 0.01,
      errorRate: 0.002,
    });
  });

  it('overrides the keys given, with or without an on, prefix', () => {
    expect(strictOptionsFromEnv('conflictWindowMs=50, throttleRate=0.02,')).toEqual({
      ...DEFAULT_STRICT_OPTIONS,
      conflictWindowMs: 50,
      throttleRate: 0.02,
    });
    expect(strictOptionsFromEnv('on,gsiLagMs=0,errorRate=0,writeUnitsPerKey=5,readUnitsPerKey=7.5')).toEqual({
      ...DEFAULT_STRICT_OPTIONS,
      gsiLagMs: 0,
      errorRate: 0,
      writeUnitsPerKey: 5,
      readUnitsPerKey: 7.5,
    });
  });

  it('reads the environment when given no value', () => {
    const saved = process.env[STRICT_DYNAMODB_ENV];
    try {
      process.env[STRICT_DYNAMODB_ENV] = 'off';
      expect(strictOptionsFromEnv()).toBeUndefined();
      process.env[STRICT_DYNAMODB_ENV] = 'gsiLagMs=5';
      expect(strictOptionsFromEnv()?.gsiLagMs).toBe(5);
      delete process.env[STRICT_DYNAMODB_ENV];
      expect(strictOptionsFromEnv()).toEqual(DEFAULT_STRICT_OPTIONS);
    } finally {
      if (saved === undefined) delete process.env[STRICT_DYNAMODB_ENV];
      else process.env[STRICT_DYNAMODB_ENV] = saved;
    }
  });

  it.each([
    'conflictWindow=5',
    'throttleRate=abc',
    'throttleRate=',
    'throttleRate=1.5',
    'errorRate=-0.1',
    'writeUnitsPerKey=0',
    'gsiLagMs=-1',
    'gsiLagMs=Infinity',
    'fast',
    'off,gsiLagMs=5',
    'throttleRate=0.6,errorRate=0.6',
  ])('rejects %p with a message listing the valid keys', (value) => {
    expect(() => strictOptionsFromEnv(value)).toThrow(
      /conflictWindowMs, writeUnitsPerKey, readUnitsPerKey, gsiLagMs, throttleRate, errorRate/,
    );
  });
});
