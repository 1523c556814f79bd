/**
 * A client of the OCI distribution API (v2), the part signing needs: manifests by tag or digest,
 * blobs, uploads, manifest PUTs. Authentication as registries ask for it in `WWW-Authenticate`:
 * Bearer tokens from the registry's token service (with Basic credentials when given, anonymous
 * otherwise), or Basic. HTTPS with the system's CAs plus any given; plain HTTP only to this machine.
 *
 * Nothing a registry sends is trusted further than it must be: every body has a size limit (read
 * no further than the limit), manifests must come with a manifest content type and hash to the
 * digest asked for (or that the registry states), blobs to their digest, and every failure names
 * the registry, what was asked, and what came back.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { keywardError, KeywardError } from '../errors.js';
import { boundedExchange } from '../http/bounded.js';
import type { Secret } from '../secret.js';
import { toPem } from '../x509/pem.js';
import { jsonObject } from './json.js';
import { digestOf, isLoopbackRegistry } from './reference.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const MANIFEST_TYPES: readonly string[] = Object.values(MEDIA_TYPES);

/** The limits on what a registry may send: containerd's and distribution's manifest limit, small answers otherwise. */
export const LIMITS = {
  manifestBytes: 4 * 1024 * 1024,
  /** Tokens, error bodies. */
  smallBytes: 64 * 1024,
  /** Nothing sent or received for this long ends the request. */
  idleMs: 30_000,
  /** A whole request, however steadily it trickles. */
  deadlineMs: 120_000,
  redirects: 3,
  /** Tries again of a read the registry failed with a 5xx. */
  readRetries: 2,
} as const;

export interface RegistryOptions {
  /** `host[:port]`. */
  registry: string;
  /** CA certificates (DER) to trust for HTTPS besides Node's bundled ones (a redirect to storage elsewhere still verifies). */
  ca?: Uint8Array[];
  /** Plain HTTP, for a registry on this machine only. */
  plainHttp?: boolean;
  username?: string;
  password?: Secret;
  userAgent?: string;
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  json: Record<string, unknown>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Call {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** A path on the registry (`/v2/…`) or an absolute URL (an upload location, a redirect). */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The most bytes of body to accept. */
  limit: number;
  /** Pull or push scope, for a Bearer token. */
  scope?: string;
  /** What is asked for, in messages: `the manifest of demo/app:1.0`. */
  what: string;
}

export class RegistryClient {
  readonly registry: string;
  readonly base: URL;
  readonly #ca: Uint8Array[] | undefined;
  readonly #username: string | undefined;
  readonly #password: Secret | undefined;
  readonly #userAgent: string;
  /** Bearer tokens by scope. */
  readonly #tokens = new Map<string, string>();
  /** The scheme the registry asked for once; later calls send credentials straight away. */
  #challenge: { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string } | undefined;

  constructor(options: RegistryOptions) {
    if (options.plainHttp && !isLoopbackRegistry(options.registry)) {
      throw keywardError(
        'REGISTRY_PLAIN_HTTP_REFUSED',
        `plain HTTP to ${options.registry} would send images, signatures and credentials unprotected over the network`,
        {
          hint: "plain HTTP is for a registry on this machine (127.0.0.1, localhost, ::1); give the registry's CA with --registry-ca instead",
        },
      );
    }
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw keywardError('REGISTRY_CREDENTIALS_INCOMPLETE', 'a registry username needs a password, and a password a username', {
        hint: 'give both --username and --password-file (or KEYWARD_REGISTRY_PASSWORD)',
      });
    }
    this.registry = options.registry;
    this.base = new URL(`${options.plainHttp ? 'http' : 'https'}://${options.registry}`);
    this.#ca = options.ca;
    this.#username = options.username;
    this.#password = options.password;
    this.#userAgent = options.userAgent ?? 'keyward';
  }

  /**
   * A manifest or index by tag or digest, checked: a manifest content type, at most
   * LIMITS.manifestBytes, JSON with schemaVersion 2, and its SHA-256 equal to the digest asked for
   * and to the one the registry states. Undefined when the registry has no such manifest.
   */
  async manifest(repository: string, reference: string, options: { push?: boolean } = {}): Promise<Manifest | undefined> {
    const what = `the manifest ${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const answer = await this.#call({
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_TYPES.join(', ') },
      limit: LIMITS.manifestBytes,
      scope: `repository:${repository}:${options.push ? 'pull,push' : 'pull'}`,
      what,
    });
    if (answer.status === 404) return undefined;
    this.#expect(answer, [200], what);
    const mediaType = (answer.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!MANIFEST_TYPES.includes(mediaType)) {
      throw this.#invalid(`${what} came as "${mediaType || 'no content type'}", not an image manifest or index`, 'is this address an OCI registry?');
    }
    const digest = digestOf(answer.body);
    const stated = answer.headers['docker-content-digest'];
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw keywardError('REGISTRY_DIGEST_MISMATCH', `${this.registry} answered ${what} with other content (sha256 ${digest.slice(7)})`, {
        hint: 'the registry (or something between) serves content that is not what was asked for: do not use it',
      });
    }
    if (typeof stated === 'string' && stated.startsWith('sha256:') && stated !== digest) {
      throw keywardError('REGISTRY_DIGEST_MISMATCH', `${this.registry} says ${what} is ${stated}, but what it sent is ${digest}`, {
        hint: 'the registry (or something between) altered the manifest: do not use it',
      });
    }
    const json = jsonObject(answer.body);
    if (json?.schemaVersion !== 2) {
      throw this.#invalid(`${what} is not a JSON manifest of schemaVersion 2`, 'is this address an OCI registry?');
    }
    const declared = json.mediaType;
    if (declared !== undefined && declared !== mediaType) {
      throw this.#invalid(`${what} says it is "${String(declared)}" but came as "${mediaType}"`, 'the registry serves an inconsistent manifest');
    }
    return { bytes: answer.body, mediaType, digest, json };
  }

  /** A blob, at most `limit` bytes, checked against its digest. */
  async blob(repository: string, digest: string, limit: number): Promise<Buffer> {
    const what = `the blob ${digest} of ${repository}`;
    const answer = await this.#call({ method: 'GET', url: `/v2/${repository}/blobs/${digest}`, limit, scope: `repository:${repository}:pull`, what });
    if (answer.status === 404)
      throw keywardError('IMAGE_NOT_FOUND', `${this.registry} has no ${what.slice(4)}`, { hint: 'the signature manifest refers to a blob the registry lost' });
    this.#expect(answer, [200], what);
    if (digestOf(answer.body) !== digest) {
      throw keywardError('REGISTRY_DIGEST_MISMATCH', `${this.registry} answered ${what} with other content (${digestOf(answer.body)})`, {
        hint: 'the registry (or something between) serves content that is not what was asked for: do not use it',
      });
    }
    return answer.body;
  }

  /** Uploads a blob unless the repository has it (monolithic upload: POST, then PUT with the digest). */
  async pushBlob(repository: string, bytes: Uint8Array): Promise<string> {
    const digest = digestOf(bytes);
    const scope = `repository:${repository}:pull,push`;
    const what = `the blob ${digest} of ${repository}`;
    const head = await this.#call({ method: 'HEAD', url: `/v2/${repository}/blobs/${digest}`, limit: 0, scope, what });
    if (head.status === 200) return digest;
    const start = await this.#call({
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/`,
      limit: LIMITS.smallBytes,
      scope,
      what: `an upload to ${repository}`,
    });
    this.#expect(start, [202], `an upload to ${repository}`);
    const location = start.headers.location;
    if (!location) throw this.#invalid(`${this.registry} started an upload without saying where to send it (no Location)`, 'is this address an OCI registry?');
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    const put = await this.#call({
      method: 'PUT',
      url: url.href,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      limit: LIMITS.smallBytes,
      scope,
      what,
    });
    this.#expect(put, [201], what);
    return digest;
  }

  /** Puts a manifest under a tag; returns its digest, checked against what the registry says it stored. */
  async putManifest(repository: string, tag: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const digest = digestOf(bytes);
    const what = `the manifest ${repository}:${tag}`;
    const answer = await this.#call({
      method: 'PUT',
      url: `/v2/${repository}/manifests/${tag}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      limit: LIMITS.smallBytes,
      scope: `repository:${repository}:pull,push`,
      what,
    });
    this.#expect(answer, [201], what);
    const stated = answer.headers['docker-content-digest'];
    if (typeof stated === 'string' && stated !== digest) {
      throw keywardError('REGISTRY_DIGEST_MISMATCH', `${this.registry} stored ${what} as ${stated}, not the ${digest} sent`, {
        hint: 'the registry altered the manifest on the way in: do not use it',
      });
    }
    return digest;
  }

  #invalid(message: string, hint: string): KeywardError {
    return keywardError('REGISTRY_RESPONSE_INVALID', message, { hint });
  }

  /** Refuses any status but `ok`, with the registry's own error words when it gave some. */
  #expect(answer: Answer, ok: number[], what: string): void {
    if (ok.includes(answer.status)) return;
    const { said, codes } = registryErrors(answer.body);
    if (answer.status === 401 || answer.status === 403) {
      throw keywardError('REGISTRY_AUTH', `${this.registry} refused ${what} (HTTP ${answer.status}${said ? `: ${said}` : ''})`, {
        hint: this.#username ? `check that ${this.#username} may ${answer.status === 403 ? 'do this here' : 'log in'}` : 'give --username and --password-file',
      });
    }
    throw keywardError('REGISTRY_HTTP_STATUS', `${this.registry} answered HTTP ${answer.status} to ${what}${said ? `: ${said}` : ''}`, {
      hint: answer.status >= 500 ? 'the registry failed; try again later, or ask its operator' : 'the registry did not accept the request',
      details: { status: answer.status, registryErrors: codes },
    });
  }

  /** One request, authenticated as the registry asks: a 401 is answered once with credentials or a token. */
  async #call(call: Call): Promise<Answer> {
    // A read that meets a passing server failure (distribution answers 500 while another client
    // rewrites the tag being read) is tried again, twice at most; writes never are.
    for (let retry = 0; ; retry++) {
      const answer = await this.#authenticated(call);
      if (answer.status < 500 || (call.method !== 'GET' && call.method !== 'HEAD') || retry >= LIMITS.readRetries) return answer;
      await sleep(100 * (retry + 1) + Math.floor(Math.random() * 100));
    }
  }

  /** One request, with the credentials or token the registry asked for. */
  async #authenticated(call: Call): Promise<Answer> {
    let answer = await this.#send(call, await this.#authorization(call.scope));
    if (answer.status !== 401) return answer;
    const challenge = parseChallenge(answer.headers['www-authenticate']);
    if (!challenge) return answer;
    this.#challenge = challenge;
    if (call.scope) this.#tokens.delete(call.scope);
    const authorization = await this.#authorization(call.scope);
    if (authorization === undefined) return answer;
    answer = await this.#send(call, authorization);
    return answer;
  }

  async #authorization(scope: string | undefined): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.#basic();
    const key = scope ?? '';
    let token = this.#tokens.get(key);
    if (!token) {
      token = await this.#token(challenge.realm, challenge.service, scope);
      this.#tokens.set(key, token);
    }
    return `Bearer ${token}`;
  }

  #basic(): string | undefined {
    if (this.#username === undefined || !this.#password) return undefined;
    return `Basic ${Buffer.concat([Buffer.from(`${this.#username}:`), this.#password.revealBytes()]).toString('base64')}`;
  }

  /** A Bearer token from the registry's token service (the Docker token protocol, GET). */
  async #token(realm: string, service: string | undefined, scope: string | undefined): Promise<string> {
    const url = new URL(realm);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackRegistry(url.host))) {
      throw keywardError('REGISTRY_AUTH', `${this.registry} sends Keyward for a token to ${url.origin}, which is not HTTPS`, {
        hint: 'credentials go only over HTTPS (or to this machine); ask the registry operator',
      });
    }
    if (service) url.searchParams.set('service', service);
    if (scope) url.searchParams.set('scope', scope);
    const basic = this.#basic();
    const what = `a token for ${scope ?? 'the registry'}`;
    const answer = await this.#send({ method: 'GET', url: url.href, limit: LIMITS.smallBytes, what }, basic, true);
    if (answer.status !== 200) {
      throw keywardError('REGISTRY_AUTH', `the token service ${url.origin} refused ${what} (HTTP ${answer.status})`, {
        hint: basic ? `check the username and password of ${this.#username}` : 'give --username and --password-file',
      });
    }
    const parsed = jsonObject(answer.body);
    const token = parsed?.token ?? parsed?.access_token;
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,8192}$/.test(token)) {
      throw this.#invalid(`the token service ${url.origin} answered something that holds no token`, 'is the realm in WWW-Authenticate a Docker token service?');
    }
    return token;
  }

  /** Sends one request and reads at most `limit` bytes of the answer, following a few redirects for GET. */
  async #send(call: Call, authorization: string | undefined, foreignOk = false, redirects = 0): Promise<Answer> {
    const url = new URL(call.url, this.base);
    // Credentials go to the registry itself (and its token service), never to where it redirects.
    const sameOrigin = url.origin === this.base.origin;
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...call.headers };
    if (authorization && (sameOrigin || foreignOk)) headers.authorization = authorization;
    if (call.body) headers['content-length'] = String(call.body.length);
    const answer = await this.#exchange(url, call, headers);
    if (call.method === 'GET' && [301, 302, 303, 307, 308].includes(answer.status) && answer.headers.location) {
      if (redirects >= LIMITS.redirects)
        throw this.#invalid(`${this.registry} redirected ${call.what} more than ${LIMITS.redirects} times`, 'ask the registry operator');
      return this.#send({ ...call, url: new URL(answer.headers.location, url).href }, authorization, false, redirects + 1);
    }
    return answer;
  }

  #exchange(url: URL, call: Call, headers: Record<string, string>): Promise<Answer> {
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return Promise.reject(this.#invalid(`${this.registry} sent Keyward to ${url.href}`, 'ask the registry operator'));
    if (url.protocol === 'http:' && !isLoopbackRegistry(url.host)) {
      return Promise.reject(
        keywardError('REGISTRY_PLAIN_HTTP_REFUSED', `${this.registry} sent Keyward to ${url.origin} over plain HTTP`, {
          hint: 'plain HTTP is only for this machine',
        }),
      );
    }
    const unreachable = (problem: string) =>
      keywardError('REGISTRY_UNREACHABLE', `${url.host} ${problem} over ${call.what}`, { hint: 'try again; check the network' });
    return boundedExchange(
      {
        url,
        method: call.method,
        headers,
        body: call.body ? Buffer.from(call.body) : undefined,
        ...(this.#ca ? { ca: [...rootCertificates, ...this.#ca.map((der) => toPem('CERTIFICATE', der))] } : {}),
        limit: () => call.limit,
        skipBody: () => call.method === 'HEAD',
        idleMs: LIMITS.idleMs,
        deadlineMs: LIMITS.deadlineMs,
      },
      {
        tooLarge: (limit, declared) => tooLarge(this.registry, call.what, declared === undefined ? `more than ${limit} bytes` : `${declared} bytes`, limit),
        idle: (ms) => unreachable(`sent nothing for ${ms / 1000} s`),
        deadline: (ms) => unreachable(`took more than ${ms / 1000} s`),
        network: (error) => networkError(this.registry, call.what, error),
      },
    );
  }
}

function tooLarge(registry: string, what: string, size: string, limit: number): KeywardError {
  return keywardError('REGISTRY_RESPONSE_TOO_LARGE', `${registry} sent ${size} for ${what}; Keyward reads at most ${limit} bytes of it`, {
    hint: 'a manifest or signature this large is not one Keyward signs or verifies; is this address the registry?',
  });
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)/;

function networkError(registry: string, what: string, error: Error): KeywardError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (TLS_CODES.test(code)) {
    return keywardError('REGISTRY_TLS_UNTRUSTED', `${registry}'s TLS certificate does not verify (${error.message})`, {
      cause: error,
      hint: "give the CA that issued the registry's certificate with --registry-ca FILE",
    });
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(error.message)) {
    return keywardError('REGISTRY_UNREACHABLE', `${registry} does not speak HTTPS (${error.message})`, {
      cause: error,
      hint: 'a registry on this machine without TLS: add --plain-http',
    });
  }
  return keywardError('REGISTRY_UNREACHABLE', `cannot reach ${registry} for ${what}: ${error.message}`, {
    cause: error,
    hint: 'check the registry address and that it is running',
  });
}

/** The registry's error codes and words from an OCI error body (`{"errors":[{"code","message"}]}`), made printable. */
function registryErrors(body: Buffer): { said: string; codes: string[] } {
  const errors = jsonObject(body)?.errors;
  const list = (Array.isArray(errors) ? errors : []).slice(0, 3) as Array<{ code?: unknown; message?: unknown }>;
  const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, '?');
  return {
    said: printable(list.map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(' ')).join('; ')).slice(0, 300),
    codes: list.flatMap((e) => (typeof e.code === 'string' ? [printable(e.code).slice(0, 40)] : [])),
  };
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string | undefined): { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string } | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  const params = new Map<string, string>();
  for (const m of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  if (scheme === 'basic') return { scheme: 'basic' };
  const realm = params.get('realm');
  if (scheme !== 'bearer' || !realm) return undefined;
  try {
    new URL(realm);
  } catch {
    return undefined;
  }
  const service = params.get('service');
  return { scheme: 'bearer', realm, ...(service ? { service } : {}) };
}
