/** What every ledger must do, whatever keeps it (SQLite, PostgreSQL): checked by each one's tests. */
import type { ExecutionContext } from 'ava';
import type { Ledger, LedgerEntry } from '../../src/ca/ledger/ledger.js';
import { ConflictError, NotFoundError } from '../../src/errors.js';

/** A made-up entry (its DER is not a certificate: the ledger does not look inside). */
export function sampleEntry(serial: string, overrides: Partial<Omit<LedgerEntry, 'status'>> = {}): Omit<LedgerEntry, 'status'> {
  return {
    serial,
    subject: `CN=${serial}`,
    issuer: 'CN=ca',
    issuerKeyId: 'ff',
    profile: 'node-worker',
    notBefore: new Date(0),
    notAfter: new Date(1e12),
    renewAt: new Date(5e11),
    der: Uint8Array.of(1, 2, 3),
    ...overrides,
  };
}

/** Refuses a serial twice, keeps revocations, numbers CRLs and lists their revocations, and keeps it all when opened again. */
export async function checkLedgerRules(t: ExecutionContext, open: () => Promise<Ledger>): Promise<void> {
  const ledger = await open();
  const entry = sampleEntry('abc123', { subject: 'CN=x' });
  await ledger.record(entry);
  await t.throwsAsync(ledger.record({ ...entry, subject: 'CN=other' }), { instanceOf: ConflictError, message: /was used before/ });
  // Records that arrive together are committed together; the one reused serial among them fails alone.
  const together = await Promise.allSettled([ledger.record(sampleEntry('0b01')), ledger.record(sampleEntry('abc123')), ledger.record(sampleEntry('0b02'))]);
  t.deepEqual(
    together.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  const revoked = await ledger.revoke('abc123', 'keyCompromise');
  t.like(revoked, { status: 'revoked', revocationReason: 'keyCompromise' });
  t.like(await ledger.revoke('abc123', 'superseded'), { revocationReason: 'keyCompromise' }, 'revoking twice keeps the first reason');
  await t.throwsAsync(ledger.revoke('def0', 'unspecified'), { instanceOf: NotFoundError });
  t.deepEqual([(await ledger.nextCrl('ff')).number, (await ledger.nextCrl('ff')).number, (await ledger.nextCrl('ee')).number], [1, 2, 1]);
  t.deepEqual(
    (await ledger.nextCrl('ff')).revoked.map((e) => e.serial),
    ['abc123'],
    "a CRL lists its issuer's revoked certificates",
  );
  t.deepEqual((await ledger.nextCrl('ee')).revoked, [], "and no other issuer's");
  t.deepEqual((await ledger.list({ status: 'issued' })).map((e) => e.serial).sort(), ['0b01', '0b02']);
  const stored = await ledger.get('0b01');
  t.deepEqual(
    stored && { ...stored, der: Buffer.from(stored.der) },
    { ...sampleEntry('0b01'), status: 'issued', der: Buffer.from([1, 2, 3]) },
    'an entry comes back as it went in',
  );
  await ledger.close();
  const again = await open();
  t.like(await again.get('abc123'), { subject: 'CN=x', status: 'revoked' });
  t.is((await again.nextCrl('ff')).number, 4);
  const dump = await again.dump();
  t.is(dump.certificates.length, 3);
  t.deepEqual(dump.crlNumbers, [
    { issuerKeyId: 'ee', last: 2 },
    { issuerKeyId: 'ff', last: 4 },
  ]);
  await t.throwsAsync(again.load(dump), { instanceOf: ConflictError, code: 'LEDGER_NOT_EMPTY' }, 'a ledger that holds anything takes no import');
  await again.close();
}
