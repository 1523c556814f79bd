/** Certificate revocation lists (RFC 5280 §5), signed by the issuing CA's key in its device. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { authorityKeyIdentifier } from '../x509/key-identifier.js';
import * as x509 from '../x509/peculiar.js';
import type { SigningKey } from '../certificates/signer.js';
import type { Ledger, LedgerEntry, RevocationReason } from './ledger/ledger.js';

/** How long each issuer's CRL may be used: the online intermediate re-signs often, the offline root in ceremonies. */
export const CRL_DAYS = { intermediate: 7, root: 180 } as const;

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

function createCrl(signer: SigningKey, issuer: x509.X509Certificate, revoked: LedgerEntry[], number: number, days: number, now: Date): Promise<x509.X509Crl> {
  const thisUpdate = now;
  return x509.X509CrlGenerator.create(
    {
      issuer: issuer.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + days * 86_400_000),
      signingKey: signer.keys.privateKey,
      signingAlgorithm: signer.algorithm,
      entries: revoked.map((entry) => ({
        serialNumber: entry.serial,
        revocationDate: entry.revokedAt ?? thisUpdate,
        reason: REASON_CODES[entry.revocationReason ?? 'unspecified'],
      })),
      extensions: [authorityKeyIdentifier(signer.spki), new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(number)))],
    },
    signer.crypto,
  );
}

/**
 * The CRL of everything the ledger says `signer` issued and revoked, numbered after its last one;
 * valid for `days` from `now` (how long relying parties may use it before fetching a new one).
 */
export async function crlFromLedger(ledger: Ledger, signer: SigningKey, issuer: x509.X509Certificate, days: number, now: Date): Promise<x509.X509Crl> {
  const { number, revoked } = await ledger.nextCrl(signer.keyIdentifier.toString('hex'));
  return createCrl(signer, issuer, revoked, number, days, now);
}

/** A CRL's number (its cRLNumber extension), as the CRL says it. */
export function crlNumberOf(crl: x509.X509Crl): number {
  const extension = crl.extensions.find((e) => e.type === id_ce_cRLNumber);
  return extension ? Number(AsnConvert.parse(extension.value, CRLNumber).value) : 0;
}
