/**
 * Downloads for the TUF client: every request has a byte limit (spec §5.3.3, §5.4.1, §5.5.1, §5.6.1,
 * §5.7.3), an idle limit and a total deadline per file (src/http/bounded.ts).
 */
import { keywardError } from '../../errors.js';
import { boundedExchange } from '../../http/bounded.js';
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
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:')
      throw keywardError('TUF_URL', `"${url}" is not an http: or https: URL`, { hint: 'give the repository as http://… or https://…' });
    const answer = await boundedExchange(
      { url: parsed, limit: () => maxBytes, skipBody: (status) => status !== 200, idleMs: this.#idleTimeoutMs, deadlineMs: this.#deadlineMs },
      {
        tooLarge: () => new TrustError(role, 'length', `${url} is longer than the ${maxBytes} bytes allowed for it`),
        idle: (ms) =>
          keywardError('TUF_TIMEOUT', `${role}: ${url} sent nothing for ${ms / 1000} s`, { hint: 'the repository is slow or stalled; try again later' }),
        deadline: (ms) =>
          keywardError('TUF_DEADLINE', `${role}: ${url} was not received within ${ms / 1000} s, the limit for one file`, {
            hint: 'the repository or the network is too slow; try again later, or closer to the repository',
          }),
        network: (cause) =>
          keywardError('TUF_NETWORK', `${role}: cannot fetch ${url}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`, {
            cause,
            hint: 'check the repository URL and the network',
          }),
      },
    );
    if (answer.status === 403 || answer.status === 404) throw new TrustError(role, 'not-found', `${url} answered ${answer.status}`);
    if (answer.status !== 200)
      throw keywardError('TUF_HTTP_STATUS', `${role}: ${url} answered HTTP ${answer.status}`, { hint: 'check the repository URL and that the server is up' });
    return answer.body;
  }
}
