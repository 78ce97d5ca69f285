/** The DynamoDB endpoint behind the strict proxy, over kept-alive connections. */
import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { HOP_HEADERS, type Reply, withoutHeaders } from './replies';

export class Upstream {
  private readonly url: URL;
  private readonly agent = new Agent({ keepAlive: true });

  constructor(target: string) {
    this.url = new URL(target);
  }

  /** host:port, for the requests the proxy makes itself. */
  get host(): string {
    return this.url.host;
  }

  /** Sends the request upstream with its raw headers (a new body gets its new length). */
  forward(req: IncomingMessage, body: Buffer): Promise<Reply> {
    const headers = withoutHeaders(req.rawHeaders, HOP_HEADERS);
    headers.push('Content-Length', String(body.length));
    return this.send(req.method ?? 'POST', req.url ?? '/', headers, body);
  }

  send(method: string, path: string, headers: string[] | OutgoingHttpHeaders, body: Buffer, retried = false): Promise<Reply> {
    return new Promise((done, fail) => {
      const upstream = httpRequest(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: headers as OutgoingHttpHeaders,
          agent: this.agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () =>
            done({
              status: response.statusCode ?? 500,
              headers: withoutHeaders(response.rawHeaders, HOP_HEADERS),
              body: Buffer.concat(chunks),
              forwarded: true,
            }),
          );
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive upstream socket the server closed meanwhile: the request never reached it.
        if (upstream.reusedSocket && err.code === 'ECONNRESET' && !retried) {
          done(this.send(method, path, headers, body, true));
        } else {
          fail(err);
        }
      });
      upstream.end(body);
    });
  }

  /** Closes the kept-alive connections (the proxy is stopping). */
  destroy(): void {
    this.agent.destroy();
  }
}
