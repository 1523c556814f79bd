/** Certificate revocation lists (RFC 5280 §5), signed by the issuing CA's key in its device. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { authorityKeyIdentifier } from '../x509/key-identifier.js';
import * as x509 from '../x509/peculiar.js';
import type { SigningKey } from '../x509/signer.js';
import type { LedgerEntry, RevocationReason } from './ledger/ledger.js';

const REASON_CODES: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cACompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  certificateHold: x509.X509CrlReason.certificateHold,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
};

export interface CrlOptions {
  number: number;
  /** How long relying parties may use it before fetching a new one. */
  days: number;
  thisUpdate?: Date;
}

export function createCrl(signer: SigningKey, issuer: x509.X509Certificate, revoked: LedgerEntry[], options: CrlOptions): Promise<x509.X509Crl> {
  const thisUpdate = options.thisUpdate ?? new Date();
  return x509.X509CrlGenerator.create(
    {
      issuer: issuer.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + options.days * 86_400_000),
      signingKey: signer.keys.privateKey,
      signingAlgorithm: signer.algorithm,
      entries: revoked.map((entry) => ({
        serialNumber: entry.serial,
        revocationDate: entry.revokedAt ?? thisUpdate,
        reason: REASON_CODES[entry.revocationReason ?? 'unspecified'],
      })),
      extensions: [
        authorityKeyIdentifier(signer.spki),
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(options.number))),
      ],
    },
    signer.crypto,
  );
}
