/**
 * A cluster's issuing CA: the intermediate's key (in its device), its certificate and chain, the
 * ledger, and the policy. It issues node certificates from CSRs (deciding the subject itself),
 * records each one before handing it out, revokes, and signs CRLs.
 */
import { ConflictError, keywardError } from '../errors.js';
import { quoted } from '../quoted.js';
import type { Keystore } from '../keystore/keystore.js';
import { certificatePem } from '../x509/certificate.js';
import { toPem } from '../x509/pem.js';
import * as x509 from '../x509/peculiar.js';
import { samePublicKey } from '../x509/public-key.js';
import { SigningKey } from '../certificates/signer.js';
import { CRL_DAYS, crlFromLedger } from './crl.js';
import { checkCsr, type CheckedCsr } from './csr.js';
import { backdatedNow, checkWithinIssuer, daysFromNow, issueCertificate } from './issue.js';
import { entryFor, fieldsOf, type SignedFields } from './ledger/entry.js';
import type { Ledger } from './ledger/ledger.js';
import { checkIdentifier, NAME_OIDS, nodeSans, nodeSubject, roleOf, ROLES, type Role } from './names.js';
import { nodeFixedExtensions, serverExtensions, type PublicationUrls } from './profiles.js';
import type { CaDirectory } from './store.js';
import { CertificateTemplate, distinguishedNameDer } from './template.js';

export interface AuthorityPolicy {
  clusterId: string;
  /** Node certificate lifetime (SwarmKit: 90 days). */
  nodeDays: number;
  urls?: PublicationUrls;
}

export interface NodeRequest {
  /** The role; taken from the CSR's OU when absent (and checked against it when both are present). */
  role?: Role;
  /** The node ID; taken from the CSR's CN when absent (and checked against it when both are present). */
  nodeId?: string;
  /** The cluster the request names (cfssl's subject O): refused unless it is this CA's. */
  clusterId?: string;
  days?: number;
}

/** Whom a node certificate names: decided from the request, checked against the CSR, never copied blindly. */
export interface NodeIdentity {
  role: Role;
  nodeId: string;
}

/**
 * A node certificate ready to be signed: the CSR checked and the identity settled. Callers that
 * must decide whether the requester may have that identity (the CA server) look at it in between.
 */
export interface NodeOrder {
  csr: CheckedCsr;
  identity: NodeIdentity;
  days?: number;
}

/** A certificate just issued: its DER and chain; the parsed form only if someone asks. */
export class IssuedCertificate {
  readonly serial: string;
  readonly der: Uint8Array;
  /** The certificate, then the chain up to (not including) the offline root. */
  readonly chainPem: string;
  readonly renewAt: Date;
  #parsed: x509.X509Certificate | undefined;

  constructor(serial: string, der: Uint8Array, chainPem: string, renewAt: Date) {
    this.serial = serial;
    this.der = der;
    this.chainPem = chainPem;
    this.renewAt = renewAt;
  }

  get certificate(): x509.X509Certificate {
    this.#parsed ??= new x509.X509Certificate(this.der);
    return this.#parsed;
  }
}

export class Authority {
  readonly signer: SigningKey;
  /** The certificate that issues: the cluster CA as its swarm trusts it (self-signed), or the intermediate. */
  readonly certificate: x509.X509Certificate;
  /**
   * What a relying party that trusts the offline root needs above an issued certificate: the root's
   * certificate for this CA's key and, during a root rotation, the cross-signed new root.
   */
  readonly chain: x509.X509Certificate[];
  readonly ledger: Ledger;
  readonly policy: AuthorityPolicy;
  readonly keyId: string;
  /** The chain, as every issued certificate is followed. */
  readonly #chainPem: string;
  readonly #nodeTemplate: CertificateTemplate;

  constructor(signer: SigningKey, certificate: x509.X509Certificate, ledger: Ledger, policy: AuthorityPolicy, chain: x509.X509Certificate[] = []) {
    this.signer = signer;
    this.certificate = certificate;
    this.ledger = ledger;
    this.policy = { ...policy, clusterId: checkIdentifier(policy.clusterId, 'cluster ID') };
    this.chain = chain;
    this.keyId = signer.keyIdentifier.toString('hex');
    this.#chainPem = chain.map(certificatePem).join('');
    this.#nodeTemplate = new CertificateTemplate(signer, certificate, nodeFixedExtensions(signer.spki, this.policy.urls));
    if (!samePublicKey(certificate.publicKey, signer.spki)) {
      throw keywardError('CA_KEY_MISMATCH', `the CA certificate (${certificate.subject}) is not for the key ${signer.handle.info.uri}`);
    }
  }

  /**
   * Records, then hands out. The ledger write completes before the certificate is returned, so a
   * crash can lose a certificate nobody received but never hand out one the ledger does not know.
   * A 128-bit random serial seen before is astronomically unlikely, but is never issued twice.
   */
  async #issue(profile: string, sign: () => Promise<SignedFields>): Promise<IssuedCertificate> {
    for (let attempt = 0; ; attempt++) {
      const fields = await sign();
      const entry = entryFor(fields, profile, this.keyId);
      try {
        await this.ledger.record(entry);
      } catch (error) {
        if (error instanceof ConflictError && error.code === 'SERIAL_IN_USE' && attempt < 3) continue;
        throw error;
      }
      return new IssuedCertificate(entry.serial, fields.der, toPem('CERTIFICATE', fields.der) + this.#chainPem, entry.renewAt);
    }
  }

  /** A node certificate from a CSR. The subject is the CA's decision: O is always this cluster. */
  async issueNode(csrInput: Uint8Array | string, request: NodeRequest = {}): Promise<IssuedCertificate> {
    return this.issueOrder(await this.nodeOrder(csrInput, request));
  }

  /**
   * Checks a CSR and settles whom the certificate will name. What the request says (a cfssl
   * subject, `--role`, `--node-id`) and what the CSR's subject says must agree where both speak;
   * SwarmKit's CSRs have an empty subject and put the identity in the request.
   */
  async nodeOrder(csrInput: Uint8Array | string, request: NodeRequest = {}): Promise<NodeOrder> {
    const csr = await checkCsr(csrInput);
    const { organization, organizationalUnit, commonName } = csr.requested;
    for (const [named, by] of [
      [request.clusterId, 'request'],
      [organization, 'CSR'],
    ] as const) {
      if (named !== undefined && named !== this.policy.clusterId) {
        throw keywardError('CLUSTER_MISMATCH', `the ${by} asks for cluster ${quoted(named)}; this CA issues for cluster "${this.policy.clusterId}" only`);
      }
    }
    const csrRole = organizationalUnit ? roleOf(organizationalUnit) : undefined;
    const role = request.role ?? csrRole;
    if (!role)
      throw keywardError('ROLE_REQUIRED', 'no node role: neither the request nor the CSR names one', {
        hint: `give --role manager|worker, or put OU=${ROLES.worker} in the CSR`,
      });
    if (request.role && csrRole && csrRole !== request.role) {
      throw keywardError('ROLE_MISMATCH', `the CSR asks for ${organizationalUnit}, but ${ROLES[request.role]} was requested`);
    }
    const nodeId = checkIdentifier(request.nodeId ?? commonName ?? '', 'node ID');
    if (request.nodeId && commonName && commonName !== request.nodeId) {
      throw keywardError('NODE_ID_MISMATCH', `the CSR names node ${quoted(commonName)}, but ${quoted(request.nodeId)} was requested`);
    }
    return { csr, identity: { role, nodeId }, days: request.days };
  }

  /** Signs what `nodeOrder` settled. */
  async issueOrder({ csr, identity: { role, nodeId }, days }: NodeOrder): Promise<IssuedCertificate> {
    const now = new Date();
    const notBefore = backdatedNow(now);
    const notAfter = daysFromNow(days ?? this.policy.nodeDays, now);
    for (const issuer of [this.certificate, ...this.chain]) checkWithinIssuer(notAfter, issuer);
    const subject = distinguishedNameDer([
      [NAME_OIDS.organization, this.policy.clusterId],
      [NAME_OIDS.organizationalUnit, ROLES[role]],
      [NAME_OIDS.commonName, nodeId],
    ]);
    return this.#issue(`node-${role}`, async () => {
      const { der, serial } = await this.#nodeTemplate.issue({
        subject,
        spki: csr.spki,
        subjectPublicKey: csr.subjectPublicKey,
        notBefore,
        notAfter,
        dnsNames: nodeSans(role, nodeId),
      });
      return {
        serial: Buffer.from(serial).toString('hex'),
        subject: nodeSubject(this.policy.clusterId, role, nodeId),
        issuer: this.certificate.subject,
        notBefore,
        notAfter,
        der,
      };
    });
  }

  /** The CA server's own TLS certificate, for a key the server holds. */
  issueServer(spki: Uint8Array, hosts: string[], days: number): Promise<IssuedCertificate> {
    return this.#issue('server', async () =>
      fieldsOf(
        await issueCertificate(
          this.signer,
          this.certificate,
          {
            subject: `O=${this.policy.clusterId}, OU=keyward-ca, CN=${hosts[0] ?? 'keyward-ca'}`,
            spki,
            notAfter: daysFromNow(days, new Date()),
            extensions: serverExtensions(spki, this.signer.spki, hosts),
          },
          { now: new Date() },
          'server',
        ),
      ),
    );
  }

  /** A CRL of every certificate this CA revoked, signed by its key. */
  crl(days: number = CRL_DAYS.intermediate): Promise<x509.X509Crl> {
    return crlFromLedger(this.ledger, this.signer, this.certificate, days, new Date());
  }
}

/** Opens the issuing CA of a CA directory: its certificates, key (by URI) and ledger. */
export async function openAuthority(directory: CaDirectory, keystore: Keystore): Promise<Authority> {
  directory.requireCa();
  const config = directory.config();
  if (!config.clusterId || !config.intermediateKey) {
    throw keywardError('CA_NOT_READY', `${directory.dir} has no cluster intermediate yet`, {
      hint: 'create one in a ceremony: keyward ca intermediate create --root-key <uri> --key <uri> --cluster-id <id>',
    });
  }
  const chain = directory.chain();
  const signer = await SigningKey.of(await keystore.open(config.intermediateKey));
  return new Authority(
    signer,
    directory.clusterCa() ?? chain[0]!,
    await directory.ledger(),
    { clusterId: config.clusterId, nodeDays: config.nodeDays, urls: config.urls },
    chain,
  );
}
