/**
 * The strict DynamoDB proxy's options and their one source in the environment (STRICT_DYNAMODB):
 * on with the defaults when unset, `off` to go without it, `conflictWindowMs=50,throttleRate=0` to tune.
 */
export const STRICT_DYNAMODB_ENV = 'STRICT_DYNAMODB';

export interface StrictDynamoOptions {
  /** How long a TransactWriteItems holds its items after it arrives (ms); default 20. */
  conflictWindowMs: number;
  /** Per-partition-key ceilings (AWS: 1000 WCU/s, 3000 RCU/s). */
  writeUnitsPerKey: number;
  readUnitsPerKey: number;
  /** New and changed items reach GSI queries after this delay (ms); default 100. */
  gsiLagMs: number;
  /** Share of data-plane calls answered with ThrottlingException (default 0.01). */
  throttleRate: number;
  /**
   * Share of data-plane calls answered with a 500 InternalServerError (default 0.002); half of them after the request
   * was applied upstream.
   */
  errorRate: number;
}

export const DEFAULT_STRICT_OPTIONS: StrictDynamoOptions = Object.freeze({
  conflictWindowMs: 20,
  writeUnitsPerKey: 1000,
  readUnitsPerKey: 3000,
  gsiLagMs: 100,
  throttleRate: 0.01,
  errorRate: 0.002,
});

const OPTION_KEYS = Object.keys(DEFAULT_STRICT_OPTIONS) as (keyof StrictDynamoOptions)[];
const ON = new Set(['', 'on', 'true', '1']);
const OFF = new Set(['off', 'false', '0']);

/**
 * Parses STRICT_DYNAMODB (read from the environment when no value is given):
 * unset/''/'on'/'true'/'1' → the defaults; 'off'/'false'/'0' → undefined (strict off);
 * 'conflictWindowMs=20,throttleRate=0.02,…' → the defaults overridden by those keys (an 'on,'
 * prefix is optional). Unknown keys or bad numbers throw an Error listing the valid keys.
 */
export function strictOptionsFromEnv(value: string | undefined = process.env[STRICT_DYNAMODB_ENV]): StrictDynamoOptions | undefined {
  const text = (value ?? '').trim();
  if (OFF.has(text.toLowerCase())) return undefined;
  const options: StrictDynamoOptions = { ...DEFAULT_STRICT_OPTIONS };
  if (ON.has(text.toLowerCase())) return options;
  const usage =
    `valid keys: ${OPTION_KEYS.join(', ')} (e.g. ${STRICT_DYNAMODB_ENV}=conflictWindowMs=50,throttleRate=0); ` +
    `or on/true/1, off/false/0`;
  const parts = text.split(',').map((p) => p.trim());
  parts.forEach((part, index) => {
    if (part === '' || (index === 0 && ON.has(part.toLowerCase()))) return;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new Error(`${STRICT_DYNAMODB_ENV}: '${part}' is not key=value; ${usage}`);
    }
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const key = OPTION_KEYS.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) throw new Error(`${STRICT_DYNAMODB_ENV}: unknown key '${name}'; ${usage}`);
    const n = raw === '' ? NaN : Number(raw);
    const isRate = key === 'throttleRate' || key === 'errorRate';
    const isCeiling = key === 'writeUnitsPerKey' || key === 'readUnitsPerKey';
    if (!Number.isFinite(n) || n < 0 || (isRate && n > 1) || (isCeiling && n <= 0)) {
      const want = isRate ? 'a number from 0 to 1' : isCeiling ? 'a number above 0' : 'a number ≥ 0';
      throw new Error(`${STRICT_DYNAMODB_ENV}: ${key}=${raw} is not ${want}; ${usage}`);
    }
    options[key] = n;
  });
  if (options.throttleRate + options.errorRate > 1) {
    throw new Error(`${STRICT_DYNAMODB_ENV}: throttleRate + errorRate must not exceed 1; ${usage}`);
  }
  return options;
}
