/**
 * A cluster's issuing CA: the intermediate's key (in its device), its certificate and chain, the
 * ledger, and the policy. It issues node certificates from CSRs (deciding the subject itself),
 * records each one before handing it out, revokes, and signs CRLs.
 */
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import type { Keystore } from '../keystore/registry.js';
import * as x509 from '../x509.js';
import { createCrl } from './crl.js';
import { checkCsr } from './csr.js';
import { daysFromNow, signCertificate } from './issue.js';
import { entryFor } from './ledger/entry.js';
import type { Ledger } from './ledger/ledger.js';
import { checkIdentifier, nodeSans, nodeSubject, roleOf, ROLES, type Role } from './names.js';
import { nodeExtensions, serverExtensions, type PublicationUrls } from './profiles.js';
import { SigningKey } from './signing-key.js';
import { certificatePem, type CaDirectory } from './store.js';

export interface AuthorityPolicy {
  clusterId: string;
  /** Node certificate lifetime (SwarmKit: 90 days). */
  nodeDays: number;
  urls?: PublicationUrls;
}

export interface NodeRequest {
  /** The role; taken from the CSR's OU when absent (and checked against this when present). */
  role?: Role;
  /** The node ID; taken from the CSR's CN when absent. */
  nodeId?: string;
  days?: number;
}

export interface IssuedCertificate {
  serial: string;
  certificate: x509.X509Certificate;
  /** The certificate, then this CA's certificate and the chain up to (not including) the root. */
  chainPem: string;
  renewAt: Date;
}

export class Authority {
  readonly signer: SigningKey;
  readonly certificate: x509.X509Certificate;
  /** Certificates between this CA and the root (empty when the intermediate is signed by the root directly). */
  readonly chain: x509.X509Certificate[];
  readonly ledger: Ledger;
  readonly policy: AuthorityPolicy;
  readonly keyId: string;

  constructor(signer: SigningKey, certificate: x509.X509Certificate, ledger: Ledger, policy: AuthorityPolicy, chain: x509.X509Certificate[] = []) {
    this.signer = signer;
    this.certificate = certificate;
    this.ledger = ledger;
    this.policy = { ...policy, clusterId: checkIdentifier(policy.clusterId, 'cluster ID') };
    this.chain = chain;
    this.keyId = signer.keyIdentifier.toString('hex');
    const certified = Buffer.from(certificate.publicKey.rawData);
    if (!certified.equals(Buffer.from(signer.spki))) {
      throw new UsageError('CA_KEY_MISMATCH', `the CA certificate (${certificate.subject}) is not for the key ${signer.handle.info.uri}`);
    }
  }

  /**
   * Signs and records. The ledger write completes before the certificate is returned, so a crash
   * can lose a certificate nobody received but never hand out one the ledger does not know.
   */
  async #issue(profile: string, subject: string, spki: Uint8Array, days: number, extensions: x509.Extension[]): Promise<IssuedCertificate> {
    const notAfter = daysFromNow(days);
    for (let attempt = 0; ; attempt++) {
      const certificate = await signCertificate(this.signer, this.certificate, { subject, spki, notAfter, extensions });
      const entry = entryFor(certificate, profile, this.signer.spki);
      try {
        await this.ledger.record(entry);
      } catch (error) {
        // A 128-bit random serial seen before: astronomically unlikely, but never issue it twice.
        if (error instanceof ConflictError && error.code === 'SERIAL_IN_USE' && attempt < 3) continue;
        throw error;
      }
      const chainPem = [certificate, this.certificate, ...this.chain].map(certificatePem).join('');
      return { serial: entry.serial, certificate, chainPem, renewAt: entry.renewAt };
    }
  }

  /** A node certificate from a CSR. The subject is the CA's decision: O is always this cluster. */
  async issueNode(csrInput: Uint8Array | string, request: NodeRequest = {}): Promise<IssuedCertificate> {
    const csr = await checkCsr(csrInput);
    const { organization, organizationalUnit, commonName } = csr.requested;
    if (organization !== undefined && organization !== this.policy.clusterId) {
      throw new UsageError('CLUSTER_MISMATCH', `the CSR asks for cluster "${organization}"; this CA issues for cluster "${this.policy.clusterId}" only`);
    }
    const role = request.role ?? (organizationalUnit ? roleOf(organizationalUnit) : undefined);
    if (!role) throw new UsageError('ROLE_REQUIRED', 'no node role: the CSR has no OU and none was given', { hint: `give --role manager|worker, or put OU=${ROLES.worker} in the CSR` });
    if (request.role && organizationalUnit && roleOf(organizationalUnit) !== request.role) {
      throw new UsageError('ROLE_MISMATCH', `the CSR asks for ${organizationalUnit}, but ${ROLES[request.role]} was requested`);
    }
    const nodeId = checkIdentifier(request.nodeId ?? commonName ?? '', 'node ID');
    if (request.nodeId && commonName && commonName !== request.nodeId) {
      throw new UsageError('NODE_ID_MISMATCH', `the CSR names node "${commonName}", but "${request.nodeId}" was requested`);
    }
    const subject = nodeSubject(this.policy.clusterId, role, nodeId);
    return this.#issue(`node-${role}`, subject, csr.spki, request.days ?? this.policy.nodeDays, nodeExtensions(csr.spki, this.signer.spki, nodeSans(role, nodeId), this.policy.urls));
  }

  /** The CA server's own TLS certificate, for a key the server holds. */
  issueServer(spki: Uint8Array, hosts: string[], days = 7): Promise<IssuedCertificate> {
    return this.#issue('server', `O=${this.policy.clusterId}, OU=keyward-ca, CN=${hosts[0] ?? 'keyward-ca'}`, spki, days, serverExtensions(spki, this.signer.spki, hosts));
  }

  /** A CRL of every certificate this CA revoked, signed by its key. */
  async crl(days = 7): Promise<x509.X509Crl> {
    const revoked = await this.ledger.list({ issuerKeyId: this.keyId, status: 'revoked' });
    return createCrl(this.signer, this.certificate, revoked, { number: await this.ledger.nextCrlNumber(this.keyId), days });
  }
}

/** Opens the issuing CA of a CA directory: its intermediate certificate, key (by URI) and ledger. */
export async function openAuthority(directory: CaDirectory, keystore: Keystore): Promise<Authority> {
  const config = directory.config();
  if (!config.clusterId || !config.intermediateKey) {
    throw new NotFoundError('CA_NOT_READY', `${directory.dir} has no cluster intermediate yet`, {
      hint: 'create one in a ceremony: keyward ca intermediate create --root-key <uri> --key <uri> --cluster-id <id>',
    });
  }
  const [intermediate, ...rest] = directory.chain();
  const signer = await SigningKey.of(await keystore.open(config.intermediateKey));
  return new Authority(signer, intermediate!, directory.ledger(), { clusterId: config.clusterId, nodeDays: config.nodeDays, urls: config.urls }, rest);
}
