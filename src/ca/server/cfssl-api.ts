/**
 * cfssl's remote-signing API, as `docker swarm init --external-ca protocol=cfssl,url=…` and
 * cfssl's own client speak it: POST /api/v1/cfssl/sign, /authsign (HMAC-SHA256 token) and /info,
 * answered in cfssl's envelope {success, result, errors: [{code, message}], messages} with
 * cfssl's error codes. Transport-free: the server feeds it requests, in two steps: `admit` when
 * the request's head has arrived (caller, path, method), `answer` once its body has.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError, KeywardError, keywardError, UnavailableError, UsageError, VerificationError } from '../../errors.js';
import { quoted } from '../../quoted.js';
import { certificatePem } from '../../x509/certificate.js';
import { toPem } from '../../x509/pem.js';
import type { Authority, NodeRequest } from '../authority.js';
import { nodeSans, roleOf } from '../names.js';
import { admissionRefusal, identityRefusal, type CallerPolicy, type CertifiedCaller, type Requester } from './access.js';

export interface ApiResponse {
  status: number;
  body: { success: boolean; result: unknown; errors: Array<{ code: number; message: string }>; messages: Array<{ code: number; message: string }> };
}

export interface ApiOptions {
  /** HMAC keys for /authsign, by name. */
  authKeys?: Map<string, Buffer>;
  /** Refuse unauthenticated /sign (cfssl: "authentication required"); needs auth keys. */
  requireAuthsign?: boolean;
  /** With mTLS: which client certificates may reach the API (what each may obtain: access.ts). */
  callers?: CallerPolicy;
  /** Where the server logs what its clients are not told (why the ledger failed). */
  log?: (line: string) => void;
}

/**
 * An authsign HMAC key as cfssl writes it: hex, at least 16 bytes. Anything else is refused: a
 * key that decoded to a few bytes, or none, would let anyone forge tokens.
 */
export function parseAuthKeyHex(text: string): Buffer {
  const clean = text.trim();
  if (!/^([0-9a-fA-F]{2}){16,}$/.test(clean)) {
    throw keywardError('AUTH_KEY_FORMAT', 'the authsign key must be hex, at least 32 hex digits (16 bytes)', {
      hint: 'make one with: openssl rand -hex 32 > ca-auth.key',
    });
  }
  return Buffer.from(clean, 'hex');
}

/** Options that cannot work are refused before anything starts (a server that ignored them would sign for anyone). */
export function checkApiOptions(options: ApiOptions): void {
  if (options.requireAuthsign && !options.authKeys?.size) {
    throw keywardError('AUTHSIGN_NEEDS_KEY', 'authenticated signing is required, but no HMAC key was given', {
      hint: 'give the key with --auth-key-source file:… or KEYWARD_CA_AUTH_KEY',
    });
  }
}

/** cfssl error codes (cfssl/errors): category × 1000 + reason. */
export const CFSSL = {
  CSR_DECODE_FAILED: 9002,
  CSR_PARSE_FAILED: 9003,
  CSR_SIGNATURE_INVALID: 9300,
  INVALID_POLICY: 5200,
  POLICY_VIOLATION: 5300,
  KEY_UNAVAILABLE: 2500,
  CERTIFICATE_UNKNOWN: 1000,
  /** cfssl's CertStoreError (its certdb): here, the ledger. */
  CERT_STORE_ERROR: 11000,
} as const;

const ok = (result: unknown, messages: ApiResponse['body']['messages'] = []): ApiResponse => ({
  status: 200,
  body: { success: true, result, errors: [], messages },
});

export const failure = (status: number, code: number, message: string): ApiResponse => ({
  status,
  body: { success: false, result: null, errors: [{ code, message }], messages: [] },
});

const ENDPOINTS = ['/api/v1/cfssl/sign', '/api/v1/cfssl/authsign', '/api/v1/cfssl/info'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const isEndpoint = (path: string): path is Endpoint => (ENDPOINTS as readonly string[]).includes(path);

/** A request `admit` let through, its body still to come. */
export interface Admitted {
  endpoint: Endpoint;
  /** The caller as TLS established it. */
  caller: CertifiedCaller | undefined;
}

/** cfssl's signer.SignRequest, as far as a node certificate needs it (SwarmKit's PrepareCSR fills these). */
interface SignRequest {
  certificate_request?: unknown;
  profile?: unknown;
  hosts?: unknown;
  /** signer.Subject: {CN, names: [{C, ST, L, O, OU, …}], SerialNumber}; overrides the CSR's subject in cfssl. */
  subject?: unknown;
}

/** The values a message quotes of a list from the request: the first few, each cut short. */
const SHOWN_VALUES = 2;

/** The one value a cfssl subject gives for an attribute, across its `names` entries. */
function single(values: unknown[], what: string): string | undefined {
  const given = [...new Set(values.filter((v) => v !== undefined && v !== ''))];
  if (given.some((v) => typeof v !== 'string')) throw keywardError('SUBJECT_INVALID', `the request's subject has a ${what} that is not a string`);
  if (given.length > 1) {
    const shown = (given as string[])
      .slice(0, SHOWN_VALUES)
      .map((v) => quoted(v))
      .join(', ');
    const more = given.length > SHOWN_VALUES ? ` and ${given.length - SHOWN_VALUES} more` : '';
    throw keywardError('SUBJECT_INVALID', `the request's subject names ${given.length} values for ${what} (${shown}${more}); a node has one`);
  }
  return given[0] as string | undefined;
}

/** The identity a cfssl request's `subject` asks for (SwarmKit: CN = node ID, OU = role, O = cluster). */
export function subjectRequest(subject: unknown): NodeRequest {
  if (subject === undefined || subject === null) return {};
  if (typeof subject !== 'object' || Array.isArray(subject)) throw keywardError('SUBJECT_INVALID', "the request's subject is not an object");
  const { CN, names } = subject as { CN?: unknown; names?: unknown };
  if (names !== undefined && names !== null && (!Array.isArray(names) || names.some((n) => typeof n !== 'object' || n === null))) {
    throw keywardError('SUBJECT_INVALID', "the request's subject names are not a list of name objects");
  }
  const entries = (names ?? []) as Array<Record<string, unknown>>;
  const nodeId = single([CN], 'CN');
  const clusterId = single(
    entries.map((n) => n.O),
    'O',
  );
  const role = single(
    entries.map((n) => n.OU),
    'OU',
  );
  return { nodeId, clusterId, role: role === undefined ? undefined : roleOf(role) };
}

/** cfssl's code for each of Keyward's request errors that has a closer one than "policy violation". */
const REQUEST_ERROR_CODES: Record<string, number> = {
  CSR_MALFORMED: CFSSL.CSR_DECODE_FAILED,
  CSR_SIGNATURE_INVALID: CFSSL.CSR_SIGNATURE_INVALID,
  CSR_SIGNATURE_ALGORITHM: CFSSL.CSR_SIGNATURE_INVALID,
};

/** Keyward's errors in cfssl's words: the request's fault is a 400, a device's a 503, anything else a 500. */
function signingFailure(error: unknown, log?: (line: string) => void): ApiResponse {
  // Nothing is handed out that the ledger has not recorded: without the ledger, nothing is issued.
  // The client is not told where the database is; the operator's log says what failed.
  if (error instanceof KeywardError && error.code.startsWith('LEDGER_')) {
    log?.(`${error.code}: ${error.message}`);
    return failure(503, CFSSL.CERT_STORE_ERROR, "the CA's ledger is unavailable, so nothing was issued; try again shortly");
  }
  if (error instanceof UsageError || error instanceof VerificationError) {
    return failure(400, REQUEST_ERROR_CODES[error.code] ?? CFSSL.POLICY_VIOLATION, error.code === 'CSR_MALFORMED' ? 'CSR Decode failed' : error.message);
  }
  // The CA key is in hardware: a device that is gone or locked is "key unavailable".
  if (error instanceof UnavailableError || error instanceof AuthError)
    return failure(503, CFSSL.KEY_UNAVAILABLE, `the CA key is unavailable: ${error.message}`);
  throw error;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((v) => b.includes(v));

export class CfsslApi {
  readonly #authority: Authority;
  readonly #options: ApiOptions;

  constructor(authority: Authority, options: ApiOptions = {}) {
    checkApiOptions(options);
    this.#authority = authority;
    this.#options = options;
  }

  async #sign(request: SignRequest, requester: Requester): Promise<ApiResponse> {
    if (typeof request.certificate_request !== 'string' || request.certificate_request.length === 0) {
      return failure(400, CFSSL.CSR_DECODE_FAILED, 'CSR Decode failed');
    }
    const profile = typeof request.profile === 'string' ? request.profile : '';
    if (profile === 'CA' || profile === 'ca') {
      return failure(
        400,
        CFSSL.INVALID_POLICY,
        'profile "CA" (cross-signing a root) needs the root key: rotate the root in a ceremony (keyward ca rotate-root)',
      );
    }
    if (profile !== '' && profile !== 'node' && profile !== 'default') {
      // cfssl falls back to its default profile here; silently issuing something else is worse.
      return failure(400, CFSSL.INVALID_POLICY, `Invalid or unknown policy: profile ${quoted(profile)} (this CA signs "node" certificates)`);
    }
    try {
      const order = await this.#authority.nodeOrder(request.certificate_request, subjectRequest(request.subject));
      const refused = identityRefusal(requester, order.identity);
      if (refused) return failure(403, 403, refused);
      const issued = await this.#authority.issueOrder(order);
      const hosts = Array.isArray(request.hosts) ? request.hosts : [];
      const sans = nodeSans(order.identity.role, order.identity.nodeId);
      const messages = hosts.length > 0 && !sameSet(hosts, sans) ? [{ code: 0, message: `hosts ignored: the CA names nodes itself (${sans.join(', ')})` }] : [];
      // The certificate alone, as cfssl answers: SwarmKit checks that each certificate of an answer
      // signs the one before and appends its own intermediates, so a chain to the offline root would
      // break it during a swarm's rotation (ca/certificates.go ValidateCertChain).
      return ok({ certificate: toPem('CERTIFICATE', issued.der) }, messages);
    } catch (error) {
      return signingFailure(error, this.#options.log);
    }
  }

  #authenticated(envelope: Record<string, unknown>): { request?: SignRequest; error?: ApiResponse } {
    const keys = this.#options.authKeys;
    if (!keys || keys.size === 0) return { error: failure(400, 400, 'no authentication provider') };
    if (typeof envelope.token !== 'string' || typeof envelope.request !== 'string') return { error: failure(400, 400, 'invalid token') };
    const token = Buffer.from(envelope.token, 'base64');
    const inner = Buffer.from(envelope.request, 'base64');
    const valid = [...keys.values()].some((key) => {
      const expected = createHmac('sha256', key).update(inner).digest();
      return expected.length === token.length && timingSafeEqual(expected, token);
    });
    if (!valid) return { error: failure(400, 400, 'invalid token') };
    try {
      const request = JSON.parse(inner.toString('utf8')) as unknown;
      if (typeof request !== 'object' || request === null) throw new Error('not an object');
      return { request: request as SignRequest };
    } catch {
      return { error: failure(400, 400, 'Unable to parse sign request') };
    }
  }

  /**
   * The first look at a request, before its body is read: the caller first, then the path and the
   * method. A caller the policy refuses learns nothing more (not even which paths exist), and no
   * body is read for a request that is refused anyway.
   */
  admit(method: string, path: string, caller?: CertifiedCaller): { admitted: Admitted } | { refused: ApiResponse } {
    const refused = admissionRefusal(this.#options.callers ?? 'any', caller, this.#authority.policy.clusterId);
    if (refused) return { refused: failure(403, 403, refused) };
    const endpoint = path.replace(/\/+$/, '');
    if (!isEndpoint(endpoint)) return { refused: failure(404, 404, `no such endpoint: ${quoted(endpoint)}`) };
    if (method !== 'POST') return { refused: failure(405, 405, `Method is not allowed:"${method}"`) };
    if (endpoint === '/api/v1/cfssl/sign' && this.#options.requireAuthsign) return { refused: failure(400, 400, 'authentication required') };
    return { admitted: { endpoint, caller } };
  }

  /** Answers an admitted request, given its raw body. */
  async answer({ endpoint, caller }: Admitted, body: Buffer): Promise<ApiResponse> {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    } catch {
      return failure(400, 400, endpoint === '/api/v1/cfssl/info' ? 'Unable to parse info request' : 'Unable to parse sign request');
    }
    const request = json as Record<string, unknown>;
    switch (endpoint) {
      case '/api/v1/cfssl/info':
        return ok({
          certificate: certificatePem(this.#authority.certificate),
          usages: ['signing', 'key encipherment', 'server auth', 'client auth'],
          expiry: `${this.#authority.policy.nodeDays * 24}h`,
        });
      case '/api/v1/cfssl/authsign': {
        const { request: inner, error } = this.#authenticated(request);
        return error ?? this.#sign(inner!, { by: 'authsign' });
      }
      case '/api/v1/cfssl/sign':
        return this.#sign(request as SignRequest, caller ? { by: 'certificate', certificate: caller } : { by: 'nothing' });
    }
  }
}
