/**
 * One HTTP exchange with a server Keyward does not trust (a TUF repository, a notary-server, an OCI
 * registry): the answer's body has a byte limit, enforced as the bytes arrive, so an endless or
 * oversized answer is cut off rather than buffered; a silence limit, so a server that stops talking
 * does not hold Keyward forever; and a deadline for the whole exchange, so one that trickles (a
 * byte a second keeps any silence limit happy) does not either. Callers name the failures in their
 * own words: what is too large, too slow or unreachable depends on what was asked for.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export interface BoundedExchange {
  url: URL;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Certificate authorities (PEM) that replace Node's for https. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The most bytes taken of an answer with this status (an error page may be allowed less). */
  limit: (status: number) => number;
  /** Longest silence, in milliseconds. */
  idleMs: number;
  /** Longest the whole exchange may take, first byte sent to last byte received. */
  deadlineMs: number;
  /** An answer whose body is not wanted (HEAD, a redirect): taken without reading it. */
  skipBody?: (status: number) => boolean;
}

export interface BoundedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The caller's own errors for each way an exchange fails. */
export interface ExchangeFailures {
  /** `declared`: the length the server announced, when that alone was too much. */
  tooLarge(limit: number, declared?: number): Error;
  idle(idleMs: number): Error;
  deadline(deadlineMs: number): Error;
  network(cause: Error): Error;
}

export async function boundedExchange(exchange: BoundedExchange, failures: ExchangeFailures): Promise<BoundedAnswer> {
  // Node's TLS stack is loaded only for https: (a few milliseconds of every start of a TUF client on http:).
  const { request: send } = exchange.url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((settle, refuse) => {
    let done = false;
    const finish = (error: Error | undefined, answer?: BoundedAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (error) {
        request.destroy();
        refuse(error);
      } else settle(answer!);
    };
    const deadline = setTimeout(() => finish(failures.deadline(exchange.deadlineMs)), exchange.deadlineMs);
    const request = send(
      exchange.url,
      {
        method: exchange.method ?? 'GET',
        headers: { ...(exchange.body ? { 'content-length': String(exchange.body.length) } : {}), ...exchange.headers },
        ...(exchange.ca ? { ca: exchange.ca } : {}),
      },
      (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (exchange.skipBody?.(status)) {
          response.resume();
          return finish(undefined, { status, headers: response.headers, body: Buffer.alloc(0) });
        }
        const limit = exchange.limit(status);
        const declared = Number(response.headers['content-length'] ?? NaN);
        if (declared > limit) return finish(failures.tooLarge(limit, declared));
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limit) finish(failures.tooLarge(limit));
          else chunks.push(chunk);
        });
        response.on('end', () => finish(undefined, { status, headers: response.headers, body: Buffer.concat(chunks, received) }));
        response.on('error', (cause) => finish(failures.network(cause)));
      },
    );
    request.setTimeout(exchange.idleMs, () => finish(failures.idle(exchange.idleMs)));
    request.on('error', (cause) => finish(failures.network(cause)));
    request.end(exchange.body);
  });
}
