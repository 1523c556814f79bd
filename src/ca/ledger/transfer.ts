/**
 * Moving a CA's ledger between SQLite and PostgreSQL, either way: everything a ledger holds
 * (certificates with their status and recording time, and each issuer's last CRL number) as one
 * JSON file, with its count and a SHA-256 checksum of its content in canonical form, so both ends
 * can say what moved and a damaged or edited file is refused. An import fills an empty ledger only,
 * or finds the very same content already there (an import run twice).
 */
import { createHash } from 'node:crypto';
import { keywardError } from '../../errors.js';
import { notEmpty, REVOCATION_REASONS, type Ledger, type LedgerContent, type RevocationReason, type StoredEntry } from './ledger.js';

const FORMAT = 'keyward-ledger-export';

/** An entry as the file has it: fixed key order, dates in ISO form, the certificate in base64. */
interface FileEntry {
  serial: string;
  subject: string;
  issuer: string;
  issuerKeyId: string;
  profile: string;
  notBefore: string;
  notAfter: string;
  renewAt: string;
  status: 'issued' | 'revoked';
  revokedAt: string | null;
  revocationReason: RevocationReason | null;
  recordedAt: string;
  der: string;
}

interface FileContent {
  certificates: FileEntry[];
  crlNumbers: Array<{ issuerKeyId: string; last: number }>;
}

/** What moved: how many certificates, and the checksum of everything (certificates and CRL numbers). */
export interface TransferSummary {
  count: number;
  crlIssuers: number;
  sha256: string;
}

function canonical(content: LedgerContent): FileContent {
  const certificates = [...content.certificates]
    .sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0))
    .map((e) => ({
      serial: e.serial,
      subject: e.subject,
      issuer: e.issuer,
      issuerKeyId: e.issuerKeyId,
      profile: e.profile,
      notBefore: e.notBefore.toISOString(),
      notAfter: e.notAfter.toISOString(),
      renewAt: e.renewAt.toISOString(),
      status: e.status,
      revokedAt: e.revokedAt?.toISOString() ?? null,
      revocationReason: e.revocationReason ?? null,
      recordedAt: e.recordedAt.toISOString(),
      der: Buffer.from(e.der).toString('base64'),
    }));
  const crlNumbers = [...content.crlNumbers]
    .sort((a, b) => (a.issuerKeyId < b.issuerKeyId ? -1 : a.issuerKeyId > b.issuerKeyId ? 1 : 0))
    .map(({ issuerKeyId, last }) => ({ issuerKeyId, last }));
  return { certificates, crlNumbers };
}

function summaryOf(content: FileContent): TransferSummary {
  return {
    count: content.certificates.length,
    crlIssuers: content.crlNumbers.length,
    sha256: createHash('sha256').update(JSON.stringify(content)).digest('hex'),
  };
}

/** The checksum and counts of what a ledger holds. */
export function summarize(content: LedgerContent): TransferSummary {
  return summaryOf(canonical(content));
}

/** Everything in `ledger`, as the export file's text, and what it holds. */
export async function exportLedger(ledger: Ledger): Promise<{ text: string; summary: TransferSummary }> {
  const content = canonical(await ledger.dump());
  const summary = summaryOf(content);
  return { text: `${JSON.stringify({ format: FORMAT, version: 1, ...summary, ...content }, null, 1)}\n`, summary };
}

/** The content of an export file, checked against its own count and checksum. */
export function parseExport(text: string, file: string): { content: LedgerContent; summary: TransferSummary } {
  const invalid = (problem: string) =>
    keywardError('LEDGER_EXPORT_INVALID', `${file} ${problem}`, { hint: 'export the ledger again: keyward ca ledger export --out FILE' });
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalid('is not JSON');
  }
  if (value?.format !== FORMAT || value.version !== 1) throw invalid('is not a Keyward ledger export (format 1)');
  const { certificates, crlNumbers } = value as unknown as FileContent;
  if (!Array.isArray(certificates) || !Array.isArray(crlNumbers)) throw invalid('has no certificates or CRL numbers');
  let content: LedgerContent;
  try {
    content = {
      certificates: certificates.map((e): StoredEntry => {
        const date = (text: unknown) => {
          const d = new Date(String(text));
          if (typeof text !== 'string' || Number.isNaN(d.getTime())) throw new Error(`a date of ${e.serial} is not one`);
          return d;
        };
        for (const field of ['serial', 'subject', 'issuer', 'issuerKeyId', 'profile', 'der'] as const) {
          if (typeof e[field] !== 'string') throw new Error(`"${field}" of a certificate is not a string`);
        }
        if (e.status !== 'issued' && e.status !== 'revoked') throw new Error(`${e.serial} has the status ${JSON.stringify(e.status)}`);
        if (e.revocationReason !== null && !REVOCATION_REASONS.includes(e.revocationReason)) throw new Error(`${e.serial} has an unknown revocation reason`);
        return {
          serial: e.serial,
          subject: e.subject,
          issuer: e.issuer,
          issuerKeyId: e.issuerKeyId,
          profile: e.profile,
          notBefore: date(e.notBefore),
          notAfter: date(e.notAfter),
          renewAt: date(e.renewAt),
          status: e.status,
          ...(e.revokedAt !== null ? { revokedAt: date(e.revokedAt), revocationReason: e.revocationReason ?? 'unspecified' } : {}),
          recordedAt: date(e.recordedAt),
          der: new Uint8Array(Buffer.from(e.der, 'base64')),
        };
      }),
      crlNumbers: crlNumbers.map(({ issuerKeyId, last }) => {
        if (typeof issuerKeyId !== 'string' || !Number.isSafeInteger(last) || last < 1) throw new Error('a CRL number is not a positive whole number');
        return { issuerKeyId, last };
      }),
    };
  } catch (error) {
    throw invalid(`holds an entry Keyward cannot read: ${(error as Error).message}`);
  }
  const summary = summarize(content);
  if (summary.count !== value.count || summary.sha256 !== value.sha256) {
    throw invalid(
      `does not match its own count and checksum (it says ${String(value.count)} certificates, sha256 ${String(value.sha256)}; it holds ${summary.count}, sha256 ${summary.sha256}): it was damaged or edited`,
    );
  }
  return { content, summary };
}

/**
 * Fills an empty `ledger` with an export's content. A ledger that holds exactly that content
 * already is left as it is (`unchanged`); one that holds anything else is refused.
 */
export async function importLedger(ledger: Ledger, text: string, file: string): Promise<TransferSummary & { unchanged: boolean }> {
  const { content, summary } = parseExport(text, file);
  const present = summarize(await ledger.dump());
  if (present.count > 0 || present.crlIssuers > 0) {
    if (present.sha256 === summary.sha256) return { ...summary, unchanged: true };
    throw notEmpty(
      `the target ledger already holds ${present.count} certificates (sha256 ${present.sha256}), not this export's ${summary.count} (sha256 ${summary.sha256})`,
    );
  }
  await ledger.load(content);
  return { ...summary, unchanged: false };
}
