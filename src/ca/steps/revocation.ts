/**
 * Revocation: any certificate this CA directory issued is revoked in its ledger; CRLs publish it,
 * the intermediate's (online) for node certificates, the root's (in a ceremony) for intermediates.
 */
import { keywardError } from '../../errors.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import type { Keystore } from '../../keystore/keystore.js';
import { keyIdentifierOf } from '../../x509/key-identifier.js';
import type * as x509 from '../../x509/peculiar.js';
import { spkiOf } from '../../x509/public-key.js';
import { SigningKey } from '../../certificates/signer.js';
import { CRL_DAYS } from '../crl.js';
import { normalizeSerial, type LedgerEntry, type RevocationReason } from '../ledger/ledger.js';
import type { CaDirectory } from '../store.js';
import { openRoot, writeCrl } from './shared.js';

export interface RevokeOptions {
  serial: string;
  reason: RevocationReason;
}

/** Revokes a certificate, and says whose CRL will carry it (to be signed next). */
export async function revokeCertificate(directory: CaDirectory, options: RevokeOptions): Promise<{ entry: LedgerEntry; crl: 'intermediate' | 'root' }> {
  const ledger = await directory.ledger();
  try {
    const entry = await ledger.revoke(normalizeSerial(options.serial), options.reason);
    const byRoot = entry.issuerKeyId === keyIdentifierOf(spkiOf(directory.root().publicKey)).toString('hex');
    return { entry, crl: byRoot ? 'root' : 'intermediate' };
  } finally {
    await ledger.close();
  }
}

export interface RootCrlOptions {
  rootKey: string | KeyUri;
  days?: number;
}

/** The root's CRL, signed in a ceremony (the root revokes intermediates, if ever). */
export async function signRootCrl(directory: CaDirectory, keystore: Keystore, options: RootCrlOptions): Promise<x509.X509Crl> {
  const { root, rootCertificate } = await openRoot(directory, keystore, options.rootKey);
  return writeCrl(directory, 'root', root, rootCertificate, options.days ?? CRL_DAYS.root);
}

export interface IntermediateCrlOptions {
  days?: number;
}

/** The intermediate's CRL (online: the intermediate's key signs it). */
export async function signIntermediateCrl(directory: CaDirectory, keystore: Keystore, options: IntermediateCrlOptions = {}): Promise<x509.X509Crl> {
  directory.requireCa();
  const config = directory.config();
  if (!config.intermediateKey) throw keywardError('CA_NOT_READY', 'this CA has no intermediate yet');
  const signer = await SigningKey.of(await keystore.open(config.intermediateKey));
  return writeCrl(directory, 'intermediate', signer, directory.intermediate(), options.days ?? CRL_DAYS.intermediate);
}
