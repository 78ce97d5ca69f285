/**
 * Source positions for logged errors, read from the bundle's source map only when an error is
 * logged. The functions run without `--enable-source-maps`, which parses index.js.map at every
 * cold start (lib/constructs/functions.ts has the measured cost); the map still ships beside
 * index.js, and the logger (./logger.ts) passes each error it logs through `withSourceStack`.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';

/** Each file's parsed map, or null when it has none (then never read again). */
const maps = new Map<string, SourceMap | null>();

function sourceMapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/**
 * `stack` with every `file:line:column` in `file` replaced by its position in the source the map
 * names (resolved from the map's folder, as `--enable-source-maps` prints it). Unchanged when the
 * stack does not pass through `file` or `file` has no map (the TypeScript sources under test).
 */
export function mapStack(stack: string, file: string): string {
  if (!stack.includes(`${file}:`)) return stack;
  const map = sourceMapOf(file);
  if (!map) return stack;
  const position = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`, 'g');
  return stack.replace(position, (found, line: string, column: string) => {
    const origin = map.findOrigin(Number(line), Number(column));
    if (!('fileName' in origin)) return found;
    return `${resolve(dirname(file), origin.fileName)}:${origin.lineNumber}:${origin.columnNumber}`;
  });
}

/**
 * A copy of `value` whose stack (and its causes') is mapped by `mapStack`, if it is an Error whose
 * stack passes through `file`; anything else as it is. The caller's error is left untouched.
 */
export function withSourceStack<T>(value: T, file: string): T {
  if (!(value instanceof Error)) return value;
  const stack = typeof value.stack === 'string' ? mapStack(value.stack, file) : value.stack;
  const cause = withSourceStack(value.cause, file);
  if (stack === value.stack && cause === value.cause) return value;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(value)) as Error, value);
  // name and message are usually inherited or non-enumerable: Object.assign did not copy them.
  return Object.assign(copy, { name: value.name, message: value.message, stack, ...(cause === undefined ? {} : { cause }) }) as T;
}
