/**
 * The browser console's built files (Vite's output, `npm run build:console`), served by the
 * api-console function: the page at `/console` and its hashed assets at `/console/assets/{asset}`.
 * Read from disk once per container; a name that is not a plain file name is never looked up, so
 * no request can reach a file outside the folder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A file name as Vite writes them (`index-B1x2y3.js`): no separators, not starting with a dot. */
export const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * What the page may load and where it may connect: its own scripts, styles and the API (same
 * origin); nothing inline, no plugins, no framing, no form posts elsewhere. The page builds its DOM
 * from text nodes, so a hostile image field cannot become markup, and would not run if it did.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every console answer besides its type and caching. */
export const CONSOLE_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  body: string;
  contentType: string;
}

export interface StaticSite {
  /** The built folder, or undefined when it was not built. */
  root: string | undefined;
  page(): StaticFile | undefined;
  asset(name: string): StaticFile | undefined;
}

/** The first of `candidates` holding an index.html: the Lambda bundle's copy, else the source tree's build. */
export function findBuiltSite(candidates: readonly string[]): string | undefined {
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** The files of a built site, read once and kept (they are small: the whole console is ~250 KB). */
export function staticSite(root: string | undefined): StaticSite {
  const files = new Map<string, StaticFile>();
  const read = (file: string): StaticFile | undefined => {
    if (!root) return undefined;
    const cached = files.get(file);
    if (cached) return cached;
    const full = path.join(root, file);
    if (!existsSync(full)) return undefined;
    const type = CONTENT_TYPES[path.extname(file)];
    // Only text files are built; anything else would need API Gateway's binary media types.
    if (!type) return undefined;
    const loaded = { body: readFileSync(full, 'utf8'), contentType: type };
    files.set(file, loaded);
    return loaded;
  };
  return {
    root,
    page: () => read('index.html'),
    asset: (name) => (ASSET_NAME.test(name) ? read(path.join('assets', name)) : undefined),
  };
}

/** The names of the built assets (for tests and the build check). */
export function assetNames(root: string): string[] {
  const dir = path.join(root, 'assets');
  return existsSync(dir) ? readdirSync(dir) : [];
}
