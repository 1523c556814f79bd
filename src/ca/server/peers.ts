/**
 * Who is at the other end of a mutual-TLS connection. OpenSSL verifies a client's chain to the
 * anchors and against the CRLs, as any TLS server does; the server then asks this module, which
 * admits or refuses the connection and says why, so that every refusal can be logged with its
 * reason and its peer (a refused handshake is otherwise invisible to the operator).
 *
 * One exception, bounded in time: when a swarm first rotates to this CA, its managers can only
 * present certificates from the swarm's own root, and a manager is the only caller SwarmKit has.
 * With a bootstrap root (the swarm's root, as `docker swarm ca` prints it), a manager's
 * certificate issued directly by that root is admitted until the bootstrap ends; after it, and
 * for any other certificate, the ordinary rules apply.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { keywardError } from '../../errors.js';
import { pemBlocks } from '../../x509/pem.js';
import { ROLES } from '../names.js';
import type { CertifiedCaller } from './access.js';

/** The client certificates a mutual-TLS server accepts. */
export interface ClientTrust {
  /** PEM: the certificates client chains must end at (the cluster CA, the roots). */
  anchors: string;
  /** PEM CRLs, one for every CA a client chain may pass through. */
  crl: string[];
  /**
   * A swarm's own root, trusted for that swarm's managers until `until` (checked once, when the
   * server starts: checkBootstrapRoot; the trust is rebuilt at every CRL reload).
   */
  bootstrap?: { root: X509Certificate; until: Date };
}

export type PeerVerdict = { caller: CertifiedCaller; certificate: X509Certificate; note?: string } | { refused: string };

/** OpenSSL's verdicts on a client chain, in words. */
const VERIFY_ERRORS: Record<string, string> = {
  CERT_REVOKED: 'its certificate is revoked',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not from this cluster's CA or roots",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate is not from this cluster's CA or roots",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not from this cluster's CA or roots",
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends at a root this CA does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed',
  // A swarm's own root and Keyward's default root are both CN=swarm-ca: same name, another key.
  CERT_SIGNATURE_FAILURE: 'its chain names an issuer this CA trusts, but that issuer did not sign it (another CA of the same name?)',
  UNABLE_TO_GET_CRL: 'no CRL is at hand for an issuer in its chain',
  CRL_HAS_EXPIRED: 'the CRL of an issuer in its chain has expired',
  PERMITTED_VIOLATION: "its certificate is outside its issuer's name constraints",
  INVALID_PURPOSE: 'its certificate is not for TLS clients',
};

function subjectOf(certificate: PeerCertificate): CertifiedCaller {
  const subject = certificate.subject as unknown as Record<string, string | string[]> | undefined;
  const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('+') : value);
  return { organization: one(subject?.O), organizationalUnit: one(subject?.OU), commonName: one(subject?.CN) };
}

/** The last certificate of the chain OpenSSL verified (the anchor from our store). */
function anchorOf(certificate: DetailedPeerCertificate): DetailedPeerCertificate {
  let at = certificate;
  while (at.issuerCertificate && at.issuerCertificate !== at && at.issuerCertificate.fingerprint256 !== at.fingerprint256) at = at.issuerCertificate;
  return at;
}

/**
 * Names a peer in a log line: its address and, when it sent one, its certificate's subject. A
 * socket that has closed no longer knows its address: `address` is what it was.
 */
export function describePeer(socket: TLSSocket, address = `${socket.remoteAddress}:${socket.remotePort}`): string {
  const certificate = socket.getPeerX509Certificate?.();
  return certificate ? `${address} (${certificate.subject.replace(/\n/g, ', ')})` : address;
}

/** The bootstrap root, refused unless it is one self-signed CA certificate still valid. */
export function checkBootstrapRoot(pem: string): X509Certificate {
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  const root = blocks.length === 1 ? new X509Certificate(Buffer.from(blocks[0]!)) : undefined;
  if (!root || !root.ca || !root.checkIssued(root) || !root.verify(root.publicKey)) {
    throw keywardError('BOOTSTRAP_ROOT_INVALID', 'the bootstrap root must be one self-signed CA certificate', {
      hint: "give the swarm's current root as a manager prints it: docker swarm ca > swarm-root.pem",
    });
  }
  if (Date.parse(root.validTo) < Date.now()) throw keywardError('BOOTSTRAP_ROOT_EXPIRED', `the bootstrap root expired on ${root.validTo}`);
  return root;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export class ClientVerifier {
  readonly #trust: ClientTrust;
  readonly #anchors: Set<string>;
  readonly #bootstrap?: { root: X509Certificate; until: Date };

  constructor(trust: ClientTrust) {
    this.#trust = trust;
    this.#anchors = new Set(pemBlocks(trust.anchors, 'CERTIFICATE').map((der) => new X509Certificate(Buffer.from(der)).fingerprint256));
    this.#bootstrap = trust.bootstrap;
  }

  /**
   * What the TLS layer is given: every client must send a certificate, and OpenSSL's verdict is
   * read rather than enforced, so that a refusal is decided, and logged, here. The bootstrap root
   * is offered too: Go's TLS client sends no certificate whose issuer the server does not list.
   */
  get tlsOptions() {
    return {
      ca: [this.#trust.anchors, ...(this.#trust.bootstrap ? [this.#trust.bootstrap.root.toString()] : [])],
      ...(this.#trust.crl.length ? { crl: this.#trust.crl } : {}),
      requestCert: true,
      rejectUnauthorized: false,
    };
  }

  verdict(socket: TLSSocket, now = new Date()): PeerVerdict {
    const certificate = socket.getPeerX509Certificate();
    if (!certificate) return { refused: 'it sent no client certificate' };
    const caller = subjectOf(socket.getPeerCertificate());
    if (socket.authorized && this.#anchors.has(anchorOf(socket.getPeerCertificate(true)).fingerprint256)) return { caller, certificate };
    const bootstrap = this.#bootstrapVerdict(certificate, caller, now);
    if (bootstrap) return bootstrap;
    const code = String(socket.authorizationError ?? 'UNTRUSTED');
    return { refused: `${VERIFY_ERRORS[code] ?? 'its certificate does not verify'} (${code})` };
  }

  /** A swarm manager's certificate from the bootstrap root: admitted while the bootstrap lasts. Undefined when it is not from that root. */
  #bootstrapVerdict(certificate: X509Certificate, caller: CertifiedCaller, now: Date): PeerVerdict | undefined {
    const bootstrap = this.#bootstrap;
    if (!bootstrap || !certificate.checkIssued(bootstrap.root) || !certificate.verify(bootstrap.root.publicKey)) return undefined;
    if (now > bootstrap.until)
      return { refused: `its certificate is from the swarm's own root, trusted only until ${bootstrap.until.toISOString()} (the bootstrap is over)` };
    if (now < new Date(certificate.validFrom) || now > new Date(certificate.validTo))
      return { refused: "its certificate from the swarm's own root is outside its validity" };
    if (certificate.ca || !(certificate.keyUsage ?? [CLIENT_AUTH]).includes(CLIENT_AUTH))
      return { refused: "its certificate from the swarm's own root is not a TLS client certificate" };
    if (caller.organizationalUnit !== ROLES.manager)
      return { refused: `only managers may use the swarm's own root (this is "${caller.organizationalUnit ?? 'no role'}")` };
    return { caller, certificate, note: `a manager with a certificate from the swarm's own root (bootstrap until ${bootstrap.until.toISOString()})` };
  }
}
