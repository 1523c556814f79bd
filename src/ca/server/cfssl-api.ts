/**
 * cfssl's remote-signing API, as `docker swarm init --external-ca protocol=cfssl,url=…` and
 * cfssl's own client speak it: POST /api/v1/cfssl/sign, /authsign (HMAC-SHA256 token) and /info,
 * answered in cfssl's envelope {success, result, errors: [{code, message}], messages} with
 * cfssl's error codes. Transport-free: the server feeds it requests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KeywardError, UsageError } from '../../errors.js';
import type { Authority } from '../authority.js';
import { ROLES } from '../names.js';
import { certificatePem } from '../store.js';

export interface ApiResponse {
  status: number;
  body: { success: boolean; result: unknown; errors: Array<{ code: number; message: string }>; messages: Array<{ code: number; message: string }> };
}

/** What the TLS layer knows of the caller (mTLS). */
export interface Caller {
  /** Subject attributes of the verified client certificate, when there is one. */
  organization?: string;
  organizationalUnit?: string;
  commonName?: string;
}

export interface ApiOptions {
  /** HMAC keys for /authsign, by name. */
  authKeys?: Map<string, Buffer>;
  /** Refuse unauthenticated /sign (cfssl: "authentication required"); needs auth keys. */
  requireAuthsign?: boolean;
  /** With mTLS: which callers may have certificates signed. */
  callers?: 'any' | 'cluster' | 'managers';
}

/**
 * An authsign HMAC key as cfssl writes it: hex, at least 16 bytes. Anything else is refused: a
 * key that decoded to a few bytes, or none, would let anyone forge tokens.
 */
export function parseAuthKeyHex(text: string): Buffer {
  const clean = text.trim();
  if (!/^([0-9a-fA-F]{2}){16,}$/.test(clean)) {
    throw new UsageError('AUTH_KEY_FORMAT', 'the authsign key must be hex, at least 32 hex digits (16 bytes)', { hint: 'make one with: openssl rand -hex 32 > ca-auth.key' });
  }
  return Buffer.from(clean, 'hex');
}

/** Options that cannot work are refused before anything starts (a server that ignored them would sign for anyone). */
export function checkApiOptions(options: ApiOptions): void {
  if (options.requireAuthsign && !options.authKeys?.size) {
    throw new UsageError('AUTHSIGN_NEEDS_KEY', 'authenticated signing is required, but no HMAC key was given', { hint: 'give the key with --auth-key-source file:… or KEYWARD_CA_AUTH_KEY' });
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
} as const;

const ok = (result: unknown, messages: ApiResponse['body']['messages'] = []): ApiResponse => ({
  status: 200,
  body: { success: true, result, errors: [], messages },
});

export const failure = (status: number, code: number, message: string): ApiResponse => ({
  status,
  body: { success: false, result: null, errors: [{ code, message }], messages: [] },
});

interface SignRequest {
  certificate_request?: unknown;
  profile?: unknown;
  hosts?: unknown;
  label?: unknown;
}

/** Keyward's errors in cfssl's words. */
function signingFailure(error: unknown): ApiResponse {
  if (!(error instanceof KeywardError)) return failure(500, CFSSL.CERTIFICATE_UNKNOWN, 'internal error while signing');
  switch (error.code) {
    case 'CSR_MALFORMED':
      return failure(400, CFSSL.CSR_DECODE_FAILED, 'CSR Decode failed');
    case 'CSR_SIGNATURE_INVALID':
      return failure(400, CFSSL.CSR_SIGNATURE_INVALID, error.message);
    case 'CSR_KEY_NOT_ALLOWED':
    case 'CLUSTER_MISMATCH':
    case 'ROLE_REQUIRED':
    case 'ROLE_INVALID':
    case 'ROLE_MISMATCH':
    case 'NODE_ID_INVALID':
    case 'NODE_ID_MISMATCH':
    case 'VALIDITY_EXCEEDS_ISSUER':
      return failure(400, CFSSL.POLICY_VIOLATION, error.message);
    default:
      // The CA key is in hardware: a device that is gone or locked is "key unavailable".
      return failure(503, CFSSL.KEY_UNAVAILABLE, `the CA key is unavailable: ${error.message}`);
  }
}

export class CfsslApi {
  readonly #authority: Authority;
  readonly #options: ApiOptions;

  constructor(authority: Authority, options: ApiOptions = {}) {
    checkApiOptions(options);
    this.#authority = authority;
    this.#options = options;
  }

  #callerAllowed(caller: Caller | undefined): string | undefined {
    const policy = this.#options.callers ?? 'any';
    if (policy === 'any') return undefined;
    if (!caller) return 'a client certificate is required';
    if (caller.organization !== this.#authority.policy.clusterId) return `client certificates of cluster "${this.#authority.policy.clusterId}" only`;
    if (policy === 'managers' && caller.organizationalUnit !== ROLES.manager) return 'only managers may request certificates';
    return undefined;
  }

  async #sign(request: SignRequest): Promise<ApiResponse> {
    if (typeof request.certificate_request !== 'string' || request.certificate_request.length === 0) {
      return failure(400, CFSSL.CSR_DECODE_FAILED, 'CSR Decode failed');
    }
    const profile = typeof request.profile === 'string' ? request.profile : '';
    if (profile === 'CA' || profile === 'ca') {
      return failure(400, CFSSL.INVALID_POLICY, 'profile "CA" (cross-signing a root) needs the root key: rotate the root in a ceremony (keyward ca rotate-root)');
    }
    if (profile !== '' && profile !== 'node' && profile !== 'default') {
      // cfssl falls back to its default profile here; silently issuing something else is worse.
      return failure(400, CFSSL.INVALID_POLICY, `Invalid or unknown policy: profile "${profile}" (this CA signs "node" certificates)`);
    }
    try {
      const issued = await this.#authority.issueNode(request.certificate_request);
      const messages = Array.isArray(request.hosts) && request.hosts.length > 0 ? [{ code: 0, message: 'hosts ignored: the CA names nodes itself (role and node ID as SANs)' }] : [];
      return ok({ certificate: issued.chainPem }, messages);
    } catch (error) {
      return signingFailure(error);
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

  /** Handles one request: method, path, raw body, and the caller as TLS established it. */
  async handle(method: string, path: string, body: Buffer, caller?: Caller): Promise<ApiResponse> {
    const endpoint = path.replace(/\/+$/, '');
    if (!['/api/v1/cfssl/sign', '/api/v1/cfssl/authsign', '/api/v1/cfssl/info'].includes(endpoint)) {
      return failure(404, 404, `no such endpoint: ${endpoint}`);
    }
    if (method !== 'POST') return failure(405, 405, `Method is not allowed:"${method}"`);
    const refused = this.#callerAllowed(caller);
    if (refused) return failure(403, 403, refused);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    } catch {
      return failure(400, 400, endpoint.endsWith('info') ? 'Unable to parse info request' : 'Unable to parse sign request');
    }
    const request = json as Record<string, unknown>;
    switch (endpoint) {
      case '/api/v1/cfssl/info':
        return ok({
          certificate: [this.#authority.certificate, ...this.#authority.chain].map(certificatePem).join(''),
          usages: ['signing', 'key encipherment', 'server auth', 'client auth'],
          expiry: `${this.#authority.policy.nodeDays * 24}h`,
        });
      case '/api/v1/cfssl/authsign': {
        const { request: inner, error } = this.#authenticated(request);
        return error ?? this.#sign(inner!);
      }
      default:
        if (this.#options.requireAuthsign) return failure(400, 400, 'authentication required');
        return this.#sign(request as SignRequest);
    }
  }
}
