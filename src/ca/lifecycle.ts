/**
 * A cluster CA's life, one function per ceremony step: create the offline root, create a cluster's
 * intermediate (root key present), sign the root's CRL, rotate the root by cross-signing, and
 * report status. Each step checks what it is given and leaves the CA directory consistent.
 */
import { X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import type { GenerateOptions } from '../keystore/keystore.js';
import type { Keystore } from '../keystore/registry.js';
import { toPem } from '../pem.js';
import type * as x509 from '../x509.js';
import { createCrl } from './crl.js';
import { createIntermediate, createRoot, crossSign } from './issue.js';
import { checkIdentifier } from './names.js';
import { normalizeSerial, type LedgerEntry, type RevocationReason } from './ledger/ledger.js';
import { entryFor, fieldsOf } from './ledger/entry.js';
import type { PublicationUrls } from './profiles.js';
import { SigningKey, keyIdentifierOf } from './signing-key.js';
import { CA_FILES, certificatePem, splitPem, type CaDirectory } from './store.js';

/** Records a certificate this CA directory issued (root, intermediate, cross-signed) in its ledger. */
async function record(directory: CaDirectory, certificate: x509.X509Certificate, profile: string, issuerSpki: Uint8Array): Promise<void> {
  const ledger = directory.ledger();
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
  key: string;
  generate?: GenerateOptions['algorithm'];
  clusterId: string;
  days?: number;
  nodeDays?: number;
  urls?: PublicationUrls;
  /** Validity of the root CRL written with it (the root signs it now, while present). */
  rootCrlDays?: number;
}

/**
 * A ceremony step: the root key signs the cluster's intermediate (pathLen 0, constrained to the
 * cluster) and the root's CRL, so relying parties that check CRLs can validate the intermediate.
 */
export async function createClusterIntermediate(directory: CaDirectory, keystore: Keystore, options: IntermediateCreateOptions): Promise<x509.X509Certificate> {
  const clusterId = checkIdentifier(options.clusterId, 'cluster ID');
  const config = directory.config();
  if (config.clusterId && config.clusterId !== clusterId) {
    throw new ConflictError('CLUSTER_MISMATCH', `this CA directory serves cluster "${config.clusterId}", not "${clusterId}"`, {
      hint: 'use one CA directory per cluster (--dir)',
    });
  }
  const rootCertificate = directory.root();
  const root = await SigningKey.of(await keystore.open(options.rootKey));
  if (!Buffer.from(rootCertificate.publicKey.rawData).equals(Buffer.from(root.spki))) {
    throw new UsageError('ROOT_KEY_MISMATCH', `${options.rootKey} is not the key of this CA's root (${rootCertificate.subject})`);
  }
  const intermediateKey = await signingKey(keystore, options.key, options.generate);
  const intermediate = await createIntermediate(root, rootCertificate, { clusterId, spki: intermediateKey.spki, days: options.days, urls: options.urls });
  await record(directory, intermediate, 'intermediate', root.spki);
  directory.write(CA_FILES.intermediate, certificatePem(intermediate));
  await writeCrl(directory, 'root', root, rootCertificate, options.rootCrlDays ?? 180);
  directory.saveConfig({
    ...config,
    clusterId,
    intermediateKey: intermediateKey.handle.info.uri,
    nodeDays: options.nodeDays ?? config.nodeDays,
    ...(options.urls ? { urls: options.urls } : {}),
  });
  return intermediate;
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
export async function signRootCrl(directory: CaDirectory, keystore: Keystore, options: { rootKey: string; days?: number }): Promise<x509.X509Crl> {
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

/** Ends a rotation: the old root is no longer trusted. Refused while the intermediate still hangs from it. */
export async function finishRootRotation(directory: CaDirectory): Promise<void> {
  if (!directory.exists(CA_FILES.crossSigned)) throw new ConflictError('NO_ROTATION', 'no root rotation is under way');
  const root = directory.root();
  const intermediate = directory.intermediate();
  if (!new X509Certificate(Buffer.from(intermediate.rawData)).verify(new X509Certificate(Buffer.from(root.rawData)).publicKey)) {
    throw new ConflictError('ROTATION_NOT_READY', 'the cluster intermediate is still issued by the old root', {
      hint: 'issue a new intermediate under the new root first: keyward ca intermediate create --root-key <new root key> --key <uri>',
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
      ...(intermediate ? { intermediate: { subject: intermediate.subject, notAfter: intermediate.notAfter.toISOString(), key: config.intermediateKey } } : {}),
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
