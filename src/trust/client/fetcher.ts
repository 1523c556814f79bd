/**
 * Downloads for the TUF client: every request has a byte limit (spec §5.3.3, §5.4.1, §5.5.1, §5.6.1,
 * §5.7.3), enforced while the bytes arrive, so an endless or oversized answer is cut off rather than
 * buffered; an idle limit, so a server that stops talking does not hold the client forever; and a
 * total deadline per file, so a server that trickles (a byte a second keeps the idle limit happy)
 * does not either.
 */
import type { IncomingMessage } from 'node:http';
import { keywardError } from '../../errors.js';
import { TrustError } from '../errors.js';

export interface Fetcher {
  /** The body at `url`, at most `maxBytes` long; TrustError `not-found` for 403/404. */
  fetch(url: string, maxBytes: number, role: string): Promise<Buffer>;
}

export class HttpFetcher implements Fetcher {
  readonly #idleTimeoutMs: number;
  readonly #deadlineMs: number;

  /**
   * `idleTimeoutMs`: longest silence (15 s); `deadlineMs`: longest a whole file may take, first byte
   * asked to last byte received (5 minutes: 64 MiB at about 220 KB/s).
   */
  constructor(options: { idleTimeoutMs?: number; deadlineMs?: number } = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
    this.#deadlineMs = options.deadlineMs ?? 300_000;
  }

  async fetch(url: string, maxBytes: number, role: string): Promise<Buffer> {
    // Node's TLS stack is loaded only for https: URLs (a few milliseconds of every client start).
    const { get } = url.startsWith('https:') ? await import('node:https') : url.startsWith('http:') ? await import('node:http') : {};
    if (!get) throw keywardError('TUF_URL', `"${url}" is not an http: or https: URL`, { hint: 'give the repository as http://… or https://…' });
    return new Promise((settle, refuse) => {
      const deadline = setTimeout(
        () =>
          fail(
            keywardError('TUF_DEADLINE', `${role}: ${url} was not received within ${this.#deadlineMs / 1000} s, the limit for one file`, {
              hint: 'the repository or the network is too slow; try again later, or closer to the repository',
            }),
          ),
        this.#deadlineMs,
      );
      const resolve = (body: Buffer) => {
        clearTimeout(deadline);
        settle(body);
      };
      const reject = (error: Error) => {
        clearTimeout(deadline);
        refuse(error);
      };
      const fail = (error: Error) => {
        request.destroy();
        reject(error);
      };
      const request = get(url, (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status === 403 || status === 404) {
          response.resume();
          return reject(new TrustError(role, 'not-found', `${url} answered ${status}`));
        }
        if (status !== 200) {
          response.resume();
          return reject(
            keywardError('TUF_HTTP_STATUS', `${role}: ${url} answered HTTP ${status}`, { hint: 'check the repository URL and that the server is up' }),
          );
        }
        const declared = Number(response.headers['content-length'] ?? NaN);
        if (declared > maxBytes) return fail(tooLong(role, url, maxBytes));
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) fail(tooLong(role, url, maxBytes));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks, received)));
        response.on('error', fail);
      });
      request.setTimeout(this.#idleTimeoutMs, () =>
        fail(
          keywardError('TUF_TIMEOUT', `${role}: ${url} sent nothing for ${this.#idleTimeoutMs / 1000} s`, {
            hint: 'the repository is slow or stalled; try again later',
          }),
        ),
      );
      request.on('error', (cause) =>
        reject(
          keywardError('TUF_NETWORK', `${role}: cannot fetch ${url}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`, {
            cause,
            hint: 'check the repository URL and the network',
          }),
        ),
      );
    });
  }
}

function tooLong(role: string, url: string, maxBytes: number): TrustError {
  return new TrustError(role, 'length', `${url} is longer than the ${maxBytes} bytes allowed for it`);
}
