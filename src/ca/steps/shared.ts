/**
 * What several CA steps do alike: open a key (made first when asked), open the root checked against
 * its certificate, keep a directory to one cluster, record what a step signs, sign a CRL from the
 * ledger into the directory, and tell whether a root issued a certificate.
 */
import { X509Certificate } from 'node:crypto';
import { keywardError } from '../../errors.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import type { GenerateOptions } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import { keyIdentifierOf } from '../../x509/key-identifier.js';
import { issuedBy } from '../../x509/path.js';
import * as x509 from '../../x509/peculiar.js';
import { algorithmInfo } from '../../crypto/algorithms.js';
import { parseKeyUri } from '../../keystore/uri/schemes.js';
import { samePublicKey } from '../../x509/public-key.js';
import { SigningKey } from '../../certificates/signer.js';
import { crlFromLedger } from '../crl.js';
import { entryFor, fieldsOf } from '../ledger/entry.js';
import { crlFile, crlPem, type CaConfig, type CaDirectory, type CrlRole } from '../store.js';
import type { StepRecorder } from './record.js';

/**
 * A key by URI, made first when asked to (`generate`; `backup: 'wrap'` makes it copyable to a
 * second token by a backup ceremony), refusing to reuse a key already in place; recorded as `role`.
 */
export async function openSigningKey(
  keystore: Keystore,
  uri: KeyUri,
  generate: GenerateOptions['algorithm'] | undefined,
  recorder: StepRecorder,
  role: string,
  backup?: GenerateOptions['backup'],
): Promise<SigningKey> {
  const handle = generate ? await keystore.generate(uri, { algorithm: generate, ...(backup ? { backup } : {}) }) : await keystore.open(uri);
  const signer = await SigningKey.of(handle);
  await recorder.key(role, signer, generate !== undefined);
  return signer;
}

/** A key URI and the algorithm to make it with, checked without opening a device. */
export function checkKeyUri(uri: KeyUri, generate?: GenerateOptions['algorithm']): void {
  parseKeyUri(uri.text);
  if (generate !== undefined) algorithmInfo(generate);
}

/** A certificate subject as written ("CN=…, O=…"), checked to parse. */
export function checkSubject(subject: string): void {
  try {
    new x509.Name(subject);
  } catch (cause) {
    throw keywardError('SUBJECT_INVALID', `"${subject}" is not a distinguished name`, { cause, hint: 'write it as CN=Example Root CA, O=Example' });
  }
}

/** The root of this directory, opened, and checked to be the key the root certificate names. */
export async function openRoot(
  directory: CaDirectory,
  keystore: Keystore,
  rootKey: KeyUri,
  recorder: StepRecorder,
  role = 'root',
): Promise<{ root: SigningKey; rootCertificate: x509.X509Certificate }> {
  const rootCertificate = directory.root();
  const root = await SigningKey.of(await keystore.open(rootKey));
  if (!samePublicKey(rootCertificate.publicKey, root.spki)) {
    throw keywardError('ROOT_KEY_MISMATCH', `${root.handle.info.uri} is not the key of this CA's root (${rootCertificate.subject})`);
  }
  await recorder.key(role, root, false);
  return { root, rootCertificate };
}

/** A cluster CA's directory serves one cluster. */
export function checkOneCluster(config: CaConfig, clusterId: string, hint: string): void {
  if (config.clusterId && config.clusterId !== clusterId) {
    throw keywardError('CA_SERVES_OTHER_CLUSTER', `this CA directory serves cluster "${config.clusterId}", not "${clusterId}"`, { hint });
  }
}

/** Records a certificate a step signed (root, intermediate, cross-signed) in the directory's ledger, and in the step's record. */
export async function recordIssued(
  directory: CaDirectory,
  certificate: x509.X509Certificate,
  profile: string,
  issuerSpki: Uint8Array,
  recorder: StepRecorder,
): Promise<void> {
  const ledger = await directory.ledger({ create: true });
  try {
    const entry = entryFor(fieldsOf(certificate), profile, keyIdentifierOf(issuerSpki).toString('hex'));
    await ledger.record(entry);
    recorder.certificate(profile, certificate);
    recorder.ledger({ serial: entry.serial, profile, issuerKeyId: entry.issuerKeyId });
  } finally {
    await ledger.close();
  }
}

/** Signs the CRL of what `signer` revoked and publishes it in the directory under `role`. */
export async function writeCrl(
  directory: CaDirectory,
  role: CrlRole,
  signer: SigningKey,
  issuer: x509.X509Certificate,
  days: number,
  recorder: StepRecorder,
): Promise<x509.X509Crl> {
  const ledger = await directory.ledger();
  try {
    const crl = await crlFromLedger(ledger, signer, issuer, days, recorder.now);
    recorder.write(directory, crlFile(role), crlPem(crl));
    recorder.crl(role, crl);
    return crl;
  } finally {
    await ledger.close();
  }
}

export function issuedByRoot(certificate: x509.X509Certificate, root: x509.X509Certificate): boolean {
  // node:crypto, not x509's verify: that mishandles a P-256 certificate under a P-384 root.
  return issuedBy(new X509Certificate(Buffer.from(certificate.rawData)), new X509Certificate(Buffer.from(root.rawData)));
}
