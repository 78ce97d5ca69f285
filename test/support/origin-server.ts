/**
 * A small HTTP "origin" server for unit and integration tests: it serves generated images and a set
 * of misbehaving endpoints (404/500, not-an-image, huge, never-ending, never-answering, redirects,
 * flaky). Listens on 127.0.0.1 on an ephemeral port. `close()` destroys any open connections (including
 * ones that are stalled or streaming) so Jest can exit.
 *
 * Routes:
 *   /png/{w}x{h}.png, /jpeg/{w}x{h}.jpg, /gif/{w}x{h}.gif   generated image with those dimensions
 *   /missing                                               404
 *   /error500                                              500
 *   /text                                                  200 text/plain "hello"
 *   /huge                                                  200, Content-Length 50 MB, zeros streamed lazily
 *   /huge-chunked                                          200, no Content-Length, zeros until the client leaves
 *   /slow                                                  never answers (until close())
 *   /redirect?to=<url>                                     302 to <url>
 *   /redirect-loop                                         302 to itself
 *   /redirects/{n}/<rest>                                  n chained 302s ending at /<rest> (see below)
 *   /flaky/{key}/{n}/<rest>                                503 for the first n requests with that key, then /<rest>
 *
 * `/redirects/{n}/<rest>` answers 302 to `/redirects/{n-1}/<rest>`, and `/redirects/0/<rest>` serves
 * `/<rest>` directly, so a client following it makes exactly n redirects.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { gif, jpeg, png } from './images';

export interface OriginServer {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:43123`. */
  url: string;
  port: number;
  /** Number of requests received so far whose path (without query) starts with `pathPrefix` ('' counts all). */
  requestCount(pathPrefix?: string): number;
  /** Forget all request counts and flaky-endpoint state. */
  reset(): void;
  /** Stop listening and destroy every open connection. */
  close(): Promise<void>;
}

/** Bytes declared and streamed by `/huge`. */
export const HUGE_BYTES = 50 * 1024 * 1024;
/** Upper bound streamed by `/huge-chunked` if the client never goes away (1 GiB). */
export const HUGE_CHUNKED_LIMIT = 1024 * 1024 * 1024;
/** Largest width/height the image routes will generate. */
export const MAX_GENERATED_DIMENSION = 4096;

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** A readable that yields `total` zero bytes, one shared 64 KiB chunk at a time (never allocates `total`). */
function zeros(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(ZERO_CHUNK.length, total - sent);
      sent += n;
      this.push(n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
    },
  });
}

const IMAGE_ROUTES: Record<string, { ext: string; type: string; make: (w: number, h: number) => Buffer }> = {
  png: { ext: 'png', type: 'image/png', make: png },
  jpeg: { ext: 'jpg', type: 'image/jpeg', make: jpeg },
  gif: { ext: 'gif', type: 'image/gif', make: gif },
};

export async function startOriginServer(): Promise<OriginServer> {
  const sockets = new Set<Socket>();
  const counts: string[] = [];
  const flaky = new Map<string, number>();

  const send = (res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': buffer.length });
    res.end(buffer);
  };

  const redirect = (res: ServerResponse, location: string) => {
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
  };

  const stream = (res: ServerResponse, body: Readable) => {
    body.pipe(res);
    // Stop producing as soon as the client goes away.
    res.on('close', () => body.destroy());
  };

  const route = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void => {
    const image = /^\/(png|jpeg|gif)\/(\d{1,5})x(\d{1,5})\.(png|jpg|gif)$/.exec(path);
    if (image) {
      const spec = IMAGE_ROUTES[image[1] as string];
      const width = Number(image[2]);
      const height = Number(image[3]);
      if (
        !spec ||
        spec.ext !== image[4] ||
        width < 1 ||
        height < 1 ||
        width > MAX_GENERATED_DIMENSION ||
        height > MAX_GENERATED_DIMENSION
      ) {
        send(res, 404, 'no such image');
        return;
      }
      send(res, 200, spec.make(width, height), spec.type);
      return;
    }

    const chain = /^\/redirects\/(\d+)(\/.*)$/.exec(path);
    if (chain) {
      const n = Number(chain[1]);
      const rest = chain[2] as string;
      if (n === 0) route(req, res, rest, query);
      else redirect(res, `/redirects/${n - 1}${rest}`);
      return;
    }

    // `/delay/<ms>/<rest>`: answers <rest> after <ms> milliseconds (work that is in flight a while).
    const delayed = /^\/delay\/(\d{1,6})(\/.*)$/.exec(path);
    if (delayed) {
      const timer = setTimeout(() => route(req, res, delayed[2] as string, query), Number(delayed[1]));
      res.on('close', () => clearTimeout(timer));
      return;
    }

    const flakyMatch = /^\/flaky\/([^/]+)\/(\d+)(\/.*)$/.exec(path);
    if (flakyMatch) {
      const key = flakyMatch[1] as string;
      const failures = Number(flakyMatch[2]);
      const seen = (flaky.get(key) ?? 0) + 1;
      flaky.set(key, seen);
      if (seen <= failures) {
        send(res, 503, `unavailable (attempt ${seen} of ${failures} failing)`);
        return;
      }
      route(req, res, flakyMatch[3] as string, query);
      return;
    }

    switch (path) {
      case '/missing':
        send(res, 404, 'not found');
        return;
      case '/error500':
        send(res, 500, 'internal error');
        return;
      case '/text':
        send(res, 200, 'hello');
        return;
      case '/huge':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': HUGE_BYTES });
        stream(res, zeros(HUGE_BYTES));
        return;
      case '/huge-chunked':
        // No Content-Length: node uses chunked transfer encoding.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        stream(res, zeros(HUGE_CHUNKED_LIMIT));
        return;
      case '/slow':
        // Never answer; close() destroys the socket.
        return;
      case '/redirect': {
        const to = query.get('to');
        if (!to) {
          send(res, 400, 'missing ?to=');
          return;
        }
        redirect(res, to);
        return;
      }
      case '/redirect-loop':
        redirect(res, '/redirect-loop');
        return;
      default:
        send(res, 404, 'not found');
    }
  };

  const server = createServer((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://origin.invalid');
    counts.push(parsed.pathname);
    try {
      route(req, res, parsed.pathname, parsed.searchParams);
    } catch (error) {
      if (!res.headersSent) send(res, 500, String(error));
      else res.destroy();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requestCount: (pathPrefix = '') => counts.filter((p) => p.startsWith(pathPrefix)).length,
    reset: () => {
      counts.length = 0;
      flaky.clear();
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closing;
    },
  };
}
