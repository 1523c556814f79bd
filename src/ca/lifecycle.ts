/**
 * A cluster CA's life, one function per ceremony step: create the offline root, create a cluster's
 * intermediate (root key present), sign the root's CRL, rotate the root by cross-signing, and
 * report status. Each step checks what it is given and leaves the CA directory consistent.
 */
import { X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import { ConflictError, NotFoundError, UsageError, VerificationError } from '../errors.js';
import type { KeyUri } from '../keystore/key-uri.js';
import type { GenerateOptions } from '../keystore/keystore.js';
import type { Keystore } from '../keystore/registry.js';
import { toPem } from '../pem.js';
import * as x509 from '../x509.js';
import { parseCertificate } from '../certificate.js';
import { checkCsr } from './csr.js';
import { createCrl } from './crl.js';
import { createIntermediate, createRoot, crossSign, intermediateSubject } from './issue.js';
import { checkIdentifier } from './names.js';
import { normalizeSerial, type LedgerEntry, type RevocationReason } from './ledger/ledger.js';
import { entryFor, fieldsOf } from './ledger/entry.js';
import { clusterNameConstraints, type PublicationUrls } from './profiles.js';
import { SigningKey, keyIdentifierOf } from './signing-key.js';
import { CA_FILES, certificatePem, checkNodeDays, splitPem, type CaConfig, type CaDirectory } from './store.js';

/** Records a certificate this CA directory issued (root, intermediate, cross-signed) in its ledger. */
async function record(directory: CaDirectory, certificate: x509.X509Certificate, profile: string, issuerSpki: Uint8Array): Promise<void> {
  const ledger = directory.ledger({ create: true });
  try {
    await ledger.record(entryFor(fieldsOf(certificate), profile, keyIdentifierOf(issuerSpki).toString('hex')));
  } finally {
    await ledger.close();
  }
}

/** A key by URI, made first when asked to (`generate`), refusing to reuse a key already in place. */
async function signingKey(keystore: Keystore, uri: string, generate?: GenerateOptions['algorithm']): Promise<SigningKey> {
  const handle = generate ? await keystore.generate(uri, { algorithm: generate }) : await keystore.open(uri);
  return SigningKey.of(handle);
}

export interface RootCreateOptions {
  key: string;
  generate?: GenerateOptions['algorithm'];
  subject?: string;
  years?: number;
}

/** The offline root: its key in a device, its self-signed certificate in the CA directory. */
export async function createRootCa(directory: CaDirectory, keystore: Keystore, options: RootCreateOptions): Promise<x509.X509Certificate> {
  if (directory.exists(CA_FILES.root)) {
    throw new ConflictError('CA_ROOT_EXISTS', `${directory.path(CA_FILES.root)} already holds a root`, {
      hint: 'a CA has one root at a time; to replace it, rotate: keyward ca rotate-root begin --new-key <uri>',
    });
  }
  const signer = await signingKey(keystore, options.key, options.generate);
  const root = await createRoot(signer, { subject: options.subject, years: options.years });
  await record(directory, root, 'root', signer.spki);
  directory.write(CA_FILES.root, certificatePem(root));
  directory.write(CA_FILES.roots, certificatePem(root));
  directory.saveConfig({ ...directory.config(), rootKey: signer.handle.info.uri });
  return root;
}

export interface IntermediateCreateOptions {
  rootKey: string;
  /**
   * The intermediate's key: present in this ceremony (`key`, made first with `generate`), or only
   * its CSR (`csr`, from `keyward ca intermediate request` on the online side).
   */
  key?: string;
  generate?: GenerateOptions['algorithm'];
  csr?: Uint8Array | string;
  clusterId: string;
  days?: number;
  nodeDays?: number;
  urls?: PublicationUrls;
  /** Validity of the root CRL written with it (the root signs it now, while present). */
  rootCrlDays?: number;
}

/** A cluster CA's directory serves one cluster. */
function checkOneCluster(config: CaConfig, clusterId: string, hint: string): void {
  if (config.clusterId && config.clusterId !== clusterId) {
    throw new ConflictError('CLUSTER_MISMATCH', `this CA directory serves cluster "${config.clusterId}", not "${clusterId}"`, { hint });
  }
}

/** The root of this directory, opened, and checked to be the key the root certificate names. */
async function openRoot(directory: CaDirectory, keystore: Keystore, rootKey: string): Promise<{ root: SigningKey; rootCertificate: x509.X509Certificate }> {
  const rootCertificate = directory.root();
  const root = await SigningKey.of(await keystore.open(rootKey));
  if (!Buffer.from(rootCertificate.publicKey.rawData).equals(Buffer.from(root.spki))) {
    throw new UsageError('ROOT_KEY_MISMATCH', `${root.handle.info.uri} is not the key of this CA's root (${rootCertificate.subject})`);
  }
  return { root, rootCertificate };
}

/** The intermediate's public key from its CSR: self-signature checked, key allow-listed, cluster confirmed. */
async function intermediateCsrKey(csr: Uint8Array | string, clusterId: string): Promise<Uint8Array> {
  const checked = await checkCsr(csr);
  if (checked.requested.organization !== undefined && checked.requested.organization !== clusterId) {
    throw new UsageError('CSR_CLUSTER_MISMATCH', `the intermediate's CSR was made for cluster "${checked.requested.organization}", not "${clusterId}"`, {
      hint: 'check the cluster ID with the online side before the root signs',
    });
  }
  return checked.spki;
}

/**
 * A ceremony step: the root key signs a cluster's intermediate (pathLen 0, constrained to the
 * cluster) and the root's CRL, so relying parties that check CRLs can validate the intermediate.
 * With the intermediate's key present, this directory becomes that cluster's CA; with only its
 * CSR, the certificate is returned to be carried back and installed where the key is.
 */
export async function createClusterIntermediate(directory: CaDirectory, keystore: Keystore, options: IntermediateCreateOptions): Promise<x509.X509Certificate> {
  const clusterId = checkIdentifier(options.clusterId, 'cluster ID');
  if (options.nodeDays !== undefined) checkNodeDays(options.nodeDays, '--node-days');
  if (Boolean(options.key) === Boolean(options.csr)) {
    throw new UsageError('INTERMEDIATE_KEY_OR_CSR', 'give either the intermediate\'s key (--key) or its CSR (--csr)', {
      hint: 'the key when its device is here, in the ceremony; the CSR from keyward ca intermediate request when it stays online',
    });
  }
  const config = directory.config();
  if (options.key) checkOneCluster(config, clusterId, 'use one CA directory per cluster (--dir), or sign the other cluster\'s CSR (--csr)');
  const { root, rootCertificate } = await openRoot(directory, keystore, options.rootKey);
  const intermediateKey = options.key ? await signingKey(keystore, options.key, options.generate) : undefined;
  const spki = intermediateKey?.spki ?? (await intermediateCsrKey(options.csr!, clusterId));
  const intermediate = await createIntermediate(root, rootCertificate, { clusterId, spki, days: options.days, urls: options.urls });
  await record(directory, intermediate, 'intermediate', root.spki);
  await writeCrl(directory, 'root', root, rootCertificate, options.rootCrlDays ?? 180);
  if (intermediateKey) {
    directory.write(CA_FILES.intermediate, certificatePem(intermediate));
    directory.saveConfig({
      ...config,
      clusterId,
      intermediateKey: intermediateKey.handle.info.uri,
      nodeDays: options.nodeDays ?? config.nodeDays,
      ...(options.urls ? { urls: options.urls } : {}),
    });
  }
  return intermediate;
}

export interface IntermediateRequestOptions {
  key: string;
  generate?: GenerateOptions['algorithm'];
  clusterId: string;
  nodeDays?: number;
}

/**
 * The online half of a split ceremony: the intermediate's key is made (or opened) where it will
 * work, and only its CSR goes to the offline root. The key waits in ca.json until the certificate
 * comes back (installClusterIntermediate).
 */
export async function requestClusterIntermediate(directory: CaDirectory, keystore: Keystore, options: IntermediateRequestOptions): Promise<string> {
  const clusterId = checkIdentifier(options.clusterId, 'cluster ID');
  if (options.nodeDays !== undefined) checkNodeDays(options.nodeDays, '--node-days');
  const config = directory.config();
  checkOneCluster(config, clusterId, 'use one CA directory per cluster (--dir)');
  const key = await signingKey(keystore, options.key, options.generate);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: intermediateSubject(clusterId), keys: key.keys, signingAlgorithm: key.algorithm }, key.crypto);
  directory.saveConfig({ ...config, clusterId, pendingIntermediateKey: key.handle.info.uri, nodeDays: options.nodeDays ?? config.nodeDays });
  return csr.toString('pem');
}

/** The root-side files a cluster CA keeps copies of: trust anchors, rotation state, root CRLs. */
const ROOT_SIDE_FILES = [CA_FILES.roots, CA_FILES.root, CA_FILES.previousRoot, CA_FILES.crossSigned, crlFile('root'), crlFile('previous-root')];

/**
 * The online half, once the certificate is back from the ceremony: it must be for the waiting key,
 * for this cluster, constrained to it, and issued by a root of the root directory carried along
 * (whose certificates and CRLs are copied here).
 */
export async function installClusterIntermediate(directory: CaDirectory, keystore: Keystore, options: { certificate: Uint8Array | string; rootDirectory: CaDirectory }): Promise<x509.X509Certificate> {
  const config = directory.config();
  if (!config.pendingIntermediateKey || !config.clusterId) {
    throw new NotFoundError('NO_PENDING_INTERMEDIATE', `${directory.dir} is not waiting for an intermediate certificate`, {
      hint: 'request one first: keyward ca intermediate request --key <uri> --cluster-id <id> --out cluster.csr',
    });
  }
  const certificate = new x509.X509Certificate(parseCertificate(options.certificate, 'intermediate certificate').raw);
  const key = await keystore.open(config.pendingIntermediateKey);
  if (!Buffer.from(certificate.publicKey.rawData).equals(Buffer.from(await key.publicKey()))) {
    throw new UsageError('CA_KEY_MISMATCH', `the certificate (${certificate.subject}) is not for the waiting key ${key.info.uri}`, {
      hint: 'install the certificate the root signed for this directory\'s CSR',
    });
  }
  const expected = clusterNameConstraints(config.clusterId);
  const constraints = certificate.getExtension(expected.type);
  if (!constraints?.critical || !Buffer.from(constraints.value).equals(Buffer.from(expected.value)) || certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength !== 0) {
    throw new VerificationError('INTERMEDIATE_NOT_FOR_CLUSTER', `the certificate is not a cluster intermediate constrained to "${config.clusterId}" (pathLen 0, O=${config.clusterId})`);
  }
  if (!splitPem(options.rootDirectory.rootBundle()).some((root) => issuedByRoot(certificate, root))) {
    throw new VerificationError('INTERMEDIATE_UNTRUSTED', `the certificate was not issued by a root of ${options.rootDirectory.dir}`, {
      hint: 'carry the root\'s CA directory from the same ceremony (--root-dir)',
    });
  }
  for (const file of ROOT_SIDE_FILES) {
    const content = options.rootDirectory.read(file);
    if (content) directory.write(file, content);
    else rmSync(directory.path(file), { force: true });
  }
  directory.write(CA_FILES.intermediate, certificatePem(certificate));
  const { pendingIntermediateKey, ...rest } = config;
  directory.saveConfig({ ...rest, intermediateKey: pendingIntermediateKey });
  return certificate;
}

function issuedByRoot(certificate: x509.X509Certificate, root: x509.X509Certificate): boolean {
  // node:crypto, not x509's verify: that mishandles a P-256 certificate under a P-384 root.
  const child = new X509Certificate(Buffer.from(certificate.rawData));
  const issuer = new X509Certificate(Buffer.from(root.rawData));
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

/** Where a CA's CRL is kept, by the issuer's role. */
export function crlFile(role: 'root' | 'intermediate' | 'previous-root'): string {
  return `crl/${role}.crl.pem`;
}

async function writeCrl(directory: CaDirectory, role: 'root' | 'intermediate' | 'previous-root', signer: SigningKey, issuer: x509.X509Certificate, days: number): Promise<x509.X509Crl> {
  const ledger = directory.ledger();
  try {
    const keyId = keyIdentifierOf(signer.spki).toString('hex');
    const revoked = await ledger.list({ issuerKeyId: keyId, status: 'revoked' });
    const crl = await createCrl(signer, issuer, revoked, { number: await ledger.nextCrlNumber(keyId), days });
    directory.write(crlFile(role), toPem('X509 CRL', new Uint8Array(crl.rawData)));
    return crl;
  } finally {
    await ledger.close();
  }
}

/**
 * Revokes any certificate this CA directory issued. Publishing follows: the intermediate's CRL
 * for node certificates, the root's (in a ceremony) for intermediates.
 */
export async function revokeCertificate(directory: CaDirectory, serial: string, reason: RevocationReason): Promise<{ entry: LedgerEntry; crl: 'intermediate' | 'root' }> {
  const ledger = directory.ledger();
  try {
    const entry = await ledger.revoke(normalizeSerial(serial), reason);
    const root = directory.root();
    const byRoot = entry.issuerKeyId === keyIdentifierOf(new Uint8Array(root.publicKey.rawData)).toString('hex');
    return { entry, crl: byRoot ? 'root' : 'intermediate' };
  } finally {
    await ledger.close();
  }
}

/** The root's CRL, signed in a ceremony (the root revokes intermediates, if ever). */
export async function signRootCrl(directory: CaDirectory, keystore: Keystore, options: { rootKey: string | KeyUri; days?: number }): Promise<x509.X509Crl> {
  const signer = await SigningKey.of(await keystore.open(options.rootKey));
  return writeCrl(directory, 'root', signer, directory.root(), options.days ?? 180);
}

/** The intermediate's CRL (online: the intermediate's key signs it). */
export async function signIntermediateCrl(directory: CaDirectory, keystore: Keystore, options: { days?: number } = {}): Promise<x509.X509Crl> {
  const config = directory.config();
  if (!config.intermediateKey) throw new NotFoundError('CA_NOT_READY', 'this CA has no intermediate yet');
  const signer = await SigningKey.of(await keystore.open(config.intermediateKey));
  return writeCrl(directory, 'intermediate', signer, directory.intermediate(), options.days ?? 7);
}

export interface RotationOptions {
  newKey: string;
  generate?: GenerateOptions['algorithm'];
  subject?: string;
  years?: number;
}

/**
 * Begins a root rotation (a ceremony with both root keys): a new root, cross-signed by the old
 * one. Both are trusted (roots.pem holds both) while nodes move to certificates from a new
 * intermediate under the new root; old-root clients accept those through the cross-signed root.
 */
export async function beginRootRotation(directory: CaDirectory, keystore: Keystore, options: RotationOptions): Promise<{ root: x509.X509Certificate; crossSigned: x509.X509Certificate }> {
  const config = directory.config();
  if (directory.exists(CA_FILES.crossSigned)) {
    throw new ConflictError('ROTATION_IN_PROGRESS', 'a root rotation is already under way', { hint: 'finish it first: keyward ca rotate-root finish' });
  }
  if (!config.rootKey) throw new NotFoundError('CA_NOT_READY', 'this CA has no root key recorded');
  const oldCertificate = directory.root();
  const oldRoot = await SigningKey.of(await keystore.open(config.rootKey));
  const newRoot = await signingKey(keystore, options.newKey, options.generate);
  if (Buffer.from(newRoot.spki).equals(Buffer.from(oldRoot.spki))) {
    throw new UsageError('ROTATION_SAME_KEY', 'the new root key is the old one: a rotation needs a new key');
  }
  const root = await createRoot(newRoot, { subject: options.subject ?? oldCertificate.subject, years: options.years });
  const crossSigned = await crossSign(oldRoot, oldCertificate, root);
  await record(directory, root, 'root', newRoot.spki);
  await record(directory, crossSigned, 'cross-signed-root', oldRoot.spki);
  directory.write(CA_FILES.previousRoot, certificatePem(oldCertificate));
  directory.write(CA_FILES.root, certificatePem(root));
  directory.write(CA_FILES.crossSigned, certificatePem(crossSigned));
  directory.write(CA_FILES.roots, certificatePem(oldCertificate) + certificatePem(root));
  directory.saveConfig({ ...config, rootKey: newRoot.handle.info.uri, previousRootKey: config.rootKey });
  // Both roots are present now: each signs the CRL its relying parties will check.
  await writeCrl(directory, 'root', newRoot, root, 180);
  await writeCrl(directory, 'previous-root', oldRoot, oldCertificate, 180);
  return { root, crossSigned };
}

/**
 * Ends a rotation: the old root is no longer trusted. A cluster CA refuses while its intermediate
 * still hangs from the old root; a root-only directory (split ceremonies) has no intermediate to
 * check, so its rotation is finished after every cluster CA has finished its own.
 */
export async function finishRootRotation(directory: CaDirectory): Promise<void> {
  if (!directory.exists(CA_FILES.crossSigned)) throw new ConflictError('NO_ROTATION', 'no root rotation is under way');
  const root = directory.root();
  if (directory.exists(CA_FILES.intermediate) && !issuedByRoot(directory.intermediate(), root)) {
    throw new ConflictError('ROTATION_NOT_READY', 'the cluster intermediate is still issued by the old root', {
      hint: 'have the new root sign a new intermediate first (keyward ca intermediate create --root-key <new root key> --key <uri>, or request, create --csr, install)',
    });
  }
  const config = directory.config();
  directory.write(CA_FILES.roots, certificatePem(root));
  rmSync(directory.path(CA_FILES.crossSigned), { force: true });
  rmSync(directory.path(CA_FILES.previousRoot), { force: true });
  rmSync(directory.path(crlFile('previous-root')), { force: true });
  const { previousRootKey: _retired, ...rest } = config;
  directory.saveConfig(rest);
}

export interface CertificateStatus {
  serial: string;
  subject: string;
  profile: string;
  notAfter: string;
  renewAt: string;
  status: 'issued' | 'revoked' | 'expired';
  revocationReason?: string;
}

export interface CaStatus {
  dir: string;
  clusterId?: string;
  roots: Array<{ subject: string; notAfter: string; sha256: string }>;
  rotationInProgress: boolean;
  intermediate?: { subject: string; notAfter: string; key?: string };
  counts: { issued: number; revoked: number; expired: number };
  certificates: CertificateStatus[];
}

export async function caStatus(directory: CaDirectory): Promise<CaStatus> {
  const config = directory.config();
  const roots = directory.exists(CA_FILES.roots) ? splitPem(directory.rootBundle()) : [];
  const ledger = directory.ledger();
  try {
    const now = Date.now();
    const certificates: CertificateStatus[] = (await ledger.list()).map((e) => ({
      serial: e.serial,
      subject: e.subject,
      profile: e.profile,
      notAfter: e.notAfter.toISOString(),
      renewAt: e.renewAt.toISOString(),
      status: e.status === 'revoked' ? 'revoked' : e.notAfter.getTime() < now ? 'expired' : 'issued',
      ...(e.revocationReason ? { revocationReason: e.revocationReason } : {}),
    }));
    const intermediate = directory.exists(CA_FILES.intermediate) ? directory.intermediate() : undefined;
    return {
      dir: directory.dir,
      ...(config.clusterId ? { clusterId: config.clusterId } : {}),
      roots: await Promise.all(
        roots.map(async (r) => ({ subject: r.subject, notAfter: r.notAfter.toISOString(), sha256: Buffer.from(await r.getThumbprint('SHA-256')).toString('hex') })),
      ),
      rotationInProgress: directory.exists(CA_FILES.crossSigned),
      ...(intermediate ? { intermediate: { subject: intermediate.subject, notAfter: intermediate.notAfter.toISOString(), key: config.intermediateKey?.text } } : {}),
      counts: {
        issued: certificates.filter((c) => c.status === 'issued').length,
        revoked: certificates.filter((c) => c.status === 'revoked').length,
        expired: certificates.filter((c) => c.status === 'expired').length,
      },
      certificates,
    };
  } finally {
    await ledger.close();
  }
}
