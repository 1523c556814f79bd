/**
 * A client of notary-server's API (notary 0.7, server/server.go), as a publisher speaks it:
 *
 *   GET  /v2/                                   health
 *   GET  /v2/<gun>/_trust/tuf/<role>.json       a role's current metadata; <N>.root.json a root version
 *   GET  /v2/<gun>/_trust/tuf/<role>.key        the server's timestamp or snapshot key (made when it has none)
 *   POST /v2/<gun>/_trust/tuf/<role>.key        a new server key for the role (a rotation)
 *   POST /v2/<gun>/_trust/tuf/                  publish: multipart, one part per role (name "files", filename the role)
 *
 * Every answer is read against a byte limit as it arrives, a silence limit and a deadline, over TLS
 * trusting the CA the operator gives (--tls-ca) or the system's. The server's error answers
 * (`{"errors":[{"code", "message"}]}`) come back as errors that quote it, short.
 */
import { randomBytes } from 'node:crypto';
import { keywardError } from '../../errors.js';
import { boundedExchange, type BoundedAnswer } from '../../http/bounded.js';
import { quoted } from '../../quoted.js';
import type { NotaryKey } from './dialect.js';

export interface NotaryServerOptions {
  /** https://notary.example:4443 (http: only for loopback). */
  url: string;
  /** CA certificates (PEM) to trust for the server's TLS certificate, instead of the system's. */
  ca?: string | Buffer;
  /** Longest silence of the server, in milliseconds (15 s). */
  idleTimeoutMs?: number;
  /** Longest a whole request may take (120 s). */
  deadlineMs?: number;
}

/** The most Keyward reads of a metadata file (notary-server's own limit on an upload is 100 MiB). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;
/** Of a root, a key or an error answer. */
const MAX_SMALL_BYTES = 1024 * 1024;

type Answer = BoundedAnswer;

export type ServerKeyRole = 'timestamp' | 'snapshot';

export class NotaryServer {
  readonly url: URL;
  readonly #ca: string | Buffer | undefined;
  readonly #idleTimeoutMs: number;
  readonly #deadlineMs: number;

  constructor(options: NotaryServerOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw keywardError('NOTARY_URL', `--server ${quoted(options.url)} is not a URL`, { cause, hint: 'e.g. --server https://notary.example:4443' });
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
      throw keywardError('NOTARY_URL', `--server ${quoted(options.url)} is not an https: URL`, {
        hint: 'notary-server speaks TLS; plain http: is accepted only on this machine (127.0.0.1)',
      });
    this.url = url;
    this.#ca = options.ca;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
    this.#deadlineMs = options.deadlineMs ?? 120_000;
  }

  #path(gun: string, file: string): string {
    return `${this.url.pathname.replace(/\/$/, '')}/v2/${gun}/_trust/tuf/${file}`;
  }

  /** The server answers /v2/. */
  async health(): Promise<void> {
    const answer = await this.#request('GET', `${this.url.pathname.replace(/\/$/, '')}/v2/`, MAX_SMALL_BYTES);
    if (answer.status !== 200) throw this.#failure('GET /v2/', answer);
  }

  /** A role's current metadata (`role.json`, or `N.root.json` with `version`), or undefined when the server has none. */
  async metadata(gun: string, role: string, maxBytes: number, version?: number): Promise<Buffer | undefined> {
    const file = version === undefined ? `${role}.json` : `${version}.${role}.json`;
    const answer = await this.#request('GET', this.#path(gun, file), maxBytes);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.#failure(`GET ${file}`, answer);
    return answer.body;
  }

  /** The server's key for `role` (it makes one when it has none). */
  async key(gun: string, role: ServerKeyRole): Promise<NotaryKey> {
    return this.#key(gun, role, 'GET');
  }

  /** A new server key for `role`, to be named by the next root (a rotation). */
  async rotateKey(gun: string, role: ServerKeyRole): Promise<NotaryKey> {
    return this.#key(gun, role, 'POST');
  }

  async #key(gun: string, role: ServerKeyRole, method: 'GET' | 'POST'): Promise<NotaryKey> {
    const answer = await this.#request(method, this.#path(gun, `${role}.key`), MAX_SMALL_BYTES);
    if (answer.status !== 200) throw this.#failure(`${method} ${role}.key`, answer);
    let key: unknown;
    try {
      key = JSON.parse(answer.body.toString('utf8'));
    } catch {
      key = undefined;
    }
    const value = key as NotaryKey | undefined;
    if (typeof value?.keytype !== 'string' || typeof value?.keyval?.public !== 'string')
      throw keywardError('NOTARY_SERVER_ANSWER', `${this.url.origin} answered ${method} ${role}.key with something that is not a key`, {
        hint: 'is --server a notary-server?',
      });
    return { keytype: value.keytype, keyval: { private: null, public: value.keyval.public } };
  }

  /** Publishes roles in one upload: the server takes all of them or none. */
  async publish(gun: string, files: ReadonlyArray<readonly [role: string, bytes: Uint8Array]>): Promise<void> {
    const boundary = `keyward-${randomBytes(12).toString('hex')}`;
    const parts = files.flatMap(([role, bytes]) => [
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${role}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.from(bytes),
      Buffer.from('\r\n'),
    ]);
    const body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
    const answer = await this.#request('POST', this.#path(gun, ''), MAX_SMALL_BYTES, {
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    if (answer.status !== 200) throw this.#failure(`the publication of ${files.map(([role]) => role).join(', ')}`, answer, 'NOTARY_REJECTED');
  }

  /** An answer that is not the one asked for, quoting the server's own error. */
  #failure(what: string, answer: Answer, code: 'NOTARY_HTTP' | 'NOTARY_REJECTED' = 'NOTARY_HTTP') {
    let said: string;
    try {
      const errors = (JSON.parse(answer.body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> }).errors ?? [];
      said = errors
        .map((e) => [e.code, e.message, e.detail && JSON.stringify(e.detail) !== '{}' ? JSON.stringify(e.detail) : undefined].filter(Boolean).join(': '))
        .map((text) => quoted(text, 200))
        .join('; ');
    } catch {
      said = answer.body.length ? quoted(answer.body.toString('utf8'), 200) : '';
    }
    const refused = code === 'NOTARY_REJECTED' && answer.status >= 400 && answer.status < 500;
    return keywardError(refused ? code : 'NOTARY_HTTP', `${this.url.origin} answered ${what} with HTTP ${answer.status}${said ? `: ${said}` : ''}`, {
      hint: refused
        ? 'the server checked the upload and refused all of it: nothing was published'
        : answer.status === 401 || answer.status === 403
          ? 'the server wants authentication, which Keyward does not speak yet: use a notary-server without auth'
          : 'check --server and that the notary-server is up',
      details: { status: answer.status },
    });
  }

  #request(method: string, path: string, maxBytes: number, options: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
    const where = `${this.url.origin}${path}`;
    return boundedExchange(
      {
        url: new URL(path, this.url),
        method,
        headers: { accept: 'application/json', ...options.headers },
        body: options.body,
        ...(this.#ca ? { ca: this.#ca } : {}),
        limit: (status) => (status === 200 ? maxBytes : MAX_SMALL_BYTES),
        idleMs: this.#idleTimeoutMs,
        deadlineMs: this.#deadlineMs,
      },
      {
        tooLarge: (limit) => tooLarge(method, where, limit),
        idle: (ms) =>
          keywardError('NOTARY_TIMEOUT', `${method} ${where}: the server sent nothing for ${ms / 1000} s`, {
            hint: 'the server is slow or stalled; try again later',
          }),
        deadline: (ms) =>
          keywardError('NOTARY_TIMEOUT', `${method} ${where} took longer than ${ms / 1000} s`, { hint: 'the server is too slow; try again later' }),
        network: (cause) => networkError(method, where, cause),
      },
    );
  }
}

function tooLarge(method: string, where: string, limit: number) {
  return keywardError('NOTARY_TOO_LARGE', `${method} ${where}: the answer is longer than the ${limit.toLocaleString('en-US')} bytes allowed for it`, {
    hint: 'a broken or hostile server; nothing it sent was used',
  });
}

const TLS_TRUST = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

function networkError(method: string, where: string, cause: Error) {
  const code = (cause as NodeJS.ErrnoException).code ?? '';
  if (TLS_TRUST.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED')
    return keywardError('NOTARY_TLS', `${where}: the server's TLS certificate is not trusted (${code}: ${cause.message})`, {
      cause,
      hint: code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'the certificate is for another name than --server' : 'give the CA that issued it: --tls-ca ca.pem',
    });
  return keywardError('NOTARY_NETWORK', `${method} ${where}: ${code || cause.message}`, { cause, hint: 'check --server and that the notary-server is up' });
}
