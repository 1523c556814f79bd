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
import type * as x509 from '../../x509/peculiar.js';
import { samePublicKey } from '../../x509/public-key.js';
import { SigningKey } from '../../certificates/signer.js';
import { crlFromLedger } from '../crl.js';
import { entryFor, fieldsOf } from '../ledger/entry.js';
import type { CaConfig, CaDirectory, CrlRole } from '../store.js';

/** A key by URI, made first when asked to (`generate`), refusing to reuse a key already in place. */
export async function openSigningKey(keystore: Keystore, uri: string, generate?: GenerateOptions['algorithm']): Promise<SigningKey> {
  const handle = generate ? await keystore.generate(uri, { algorithm: generate }) : await keystore.open(uri);
  return SigningKey.of(handle);
}

/** The root of this directory, opened, and checked to be the key the root certificate names. */
export async function openRoot(
  directory: CaDirectory,
  keystore: Keystore,
  rootKey: string | KeyUri,
): Promise<{ root: SigningKey; rootCertificate: x509.X509Certificate }> {
  const rootCertificate = directory.root();
  const root = await SigningKey.of(await keystore.open(rootKey));
  if (!samePublicKey(rootCertificate.publicKey, root.spki)) {
    throw keywardError('ROOT_KEY_MISMATCH', `${root.handle.info.uri} is not the key of this CA's root (${rootCertificate.subject})`);
  }
  return { root, rootCertificate };
}

/** A cluster CA's directory serves one cluster. */
export function checkOneCluster(config: CaConfig, clusterId: string, hint: string): void {
  if (config.clusterId && config.clusterId !== clusterId) {
    throw keywardError('CA_SERVES_OTHER_CLUSTER', `this CA directory serves cluster "${config.clusterId}", not "${clusterId}"`, { hint });
  }
}

/** Records a certificate a step signed (root, intermediate, cross-signed) in the directory's ledger. */
export async function recordIssued(directory: CaDirectory, certificate: x509.X509Certificate, profile: string, issuerSpki: Uint8Array): Promise<void> {
  const ledger = await directory.ledger({ create: true });
  try {
    await ledger.record(entryFor(fieldsOf(certificate), profile, keyIdentifierOf(issuerSpki).toString('hex')));
  } finally {
    await ledger.close();
  }
}

/** Signs the CRL of what `signer` revoked and publishes it in the directory under `role`. */
export async function writeCrl(directory: CaDirectory, role: CrlRole, signer: SigningKey, issuer: x509.X509Certificate, days: number): Promise<x509.X509Crl> {
  const ledger = await directory.ledger();
  try {
    const crl = await crlFromLedger(ledger, signer, issuer, days);
    directory.saveCrl(role, crl);
    return crl;
  } finally {
    await ledger.close();
  }
}

export function issuedByRoot(certificate: x509.X509Certificate, root: x509.X509Certificate): boolean {
  // node:crypto, not x509's verify: that mishandles a P-256 certificate under a P-384 root.
  return issuedBy(new X509Certificate(Buffer.from(certificate.rawData)), new X509Certificate(Buffer.from(root.rawData)));
}
