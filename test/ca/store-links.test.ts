/**
 * A CA directory travels on removable media and others may write it: a symbolic link planted in it
 * must not aim Keyward's writes (or reads) at files elsewhere. Whatever the link (to a file, to
 * nothing, to a directory, beside the ledger), it is refused, what it points at is untouched, and
 * nothing is created outside the directory. A reading command creates nothing at all.
 */
import test, { type ExecutionContext } from 'ava';
import { webcrypto } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caStatus } from '../../src/ca/steps/status.js';
import { finishRootRotation } from '../../src/ca/steps/rotation.js';
import { CA_FILES, CaDirectory, crlFile } from '../../src/ca/store.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { certificatePem } from '../../src/x509/certificate.js';
import * as x509 from '../../src/x509/peculiar.js';

const HINT = 'remove the link; a CA directory holds regular files only';
const VICTIM = "the operator's own file\n";

/**
 * A CA directory (ca.json only) and, beside it, "outside": files of the operator's that a planted
 * link would aim at. Both go when the test ends.
 */
function caBesideOutside(t: ExecutionContext) {
  const base = mkdtempSync(join(tmpdir(), 'keyward-links-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'ca');
  const outside = join(base, 'outside');
  mkdirSync(dir);
  mkdirSync(outside);
  writeFileSync(join(dir, CA_FILES.config), JSON.stringify({ format: 1, nodeDays: 90 }));
  const victim = join(outside, 'victim');
  writeFileSync(victim, VICTIM);
  return { base, dir, outside, victim, directory: new CaDirectory(dir) };
}

/** The refusal of a link: a usage error that names the link and says what to do. */
function refusesLink(t: ExecutionContext, action: () => unknown, link: string, what: string): void {
  refused(t, t.throws(action, { instanceOf: UsageError }, what), link, what);
}

/** The same, for what is refused asynchronously (opening the ledger). */
async function refusesLinkAsync(t: ExecutionContext, action: () => Promise<unknown>, link: string, what: string): Promise<void> {
  refused(t, await t.throwsAsync(action, { instanceOf: UsageError }, what), link, what);
}

function refused(t: ExecutionContext, error: UsageError | undefined, link: string, what: string): void {
  t.is(error?.code, 'LINK_REFUSED', `${what}: ${error?.message}`);
  t.is(error?.exitCode, ExitCode.usage);
  t.true(error?.message.startsWith(`${link} is a symbolic link`), `${what}: ${error?.message}`);
  t.is(error?.hint, HINT);
}

test('a CRL or ca.json linked to another file: refused, the file keeps its content, the link stays', (t) => {
  const { dir, victim, directory } = caBesideOutside(t);
  mkdirSync(join(dir, 'crl'));
  directory.config(); // in use already, as under ca serve: the link comes later, and the write still checks
  const crl = join(dir, crlFile('intermediate'));
  symlinkSync(victim, crl);
  refusesLink(t, () => directory.write(crlFile('intermediate'), '-----BEGIN X509 CRL-----\n'), crl, 'writing the CRL');
  t.is(readFileSync(victim, 'utf8'), VICTIM);
  t.true(lstatSync(crl).isSymbolicLink());

  // Reading through a link is refused too: `ca intermediate install` copies a root directory's
  // files into this one, so a link there would copy any file the operator can read onto the media.
  refusesLink(t, () => directory.read(crlFile('intermediate')), crl, 'reading the CRL');

  rmSync(join(dir, CA_FILES.config));
  symlinkSync(victim, join(dir, CA_FILES.config));
  refusesLink(t, () => directory.saveConfig({ format: 1, nodeDays: 30 }), join(dir, CA_FILES.config), 'saving ca.json');
  refusesLink(t, () => directory.config(), join(dir, CA_FILES.config), 'reading ca.json');
  t.is(readFileSync(victim, 'utf8'), VICTIM);
});

test('a dangling link (a PEM file, the ledger) is refused and nothing is created where it points', async (t) => {
  const { dir, outside, directory } = caBesideOutside(t);
  symlinkSync(join(outside, 'planted.pem'), join(dir, CA_FILES.roots));
  refusesLink(t, () => directory.write(CA_FILES.roots, '-----BEGIN CERTIFICATE-----\n'), join(dir, CA_FILES.roots), 'writing roots.pem');
  rmSync(join(dir, CA_FILES.roots));

  symlinkSync(join(outside, 'ledger.sqlite'), join(dir, CA_FILES.ledger));
  await refusesLinkAsync(t, () => directory.ledger(), join(dir, CA_FILES.ledger), 'opening the ledger');
  const status = await t.throwsAsync(caStatus(directory), { instanceOf: UsageError });
  t.is(status?.code, 'LINK_REFUSED', 'even a reading command');
  t.deepEqual(readdirSync(outside), ['victim'], 'nothing was created outside the CA directory');
});

test('a crl directory linked elsewhere: a CRL is not written there, and finishing a rotation deletes nothing there', async (t) => {
  const { dir, outside, directory } = caBesideOutside(t);
  symlinkSync(outside, join(dir, 'crl'));
  writeFileSync(join(outside, 'previous-root.crl.pem'), VICTIM);
  refusesLink(t, () => directory.write(crlFile('intermediate'), '-----BEGIN X509 CRL-----\n'), join(dir, 'crl'), 'writing a CRL');
  t.false(existsSync(join(outside, 'intermediate.crl.pem')));

  // A rotation under way (root.pem, cross-signed.pem): finishing it removes the previous root's CRL.
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    { name: 'CN=new root', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    webcrypto,
  );
  for (const file of [CA_FILES.root, CA_FILES.crossSigned, CA_FILES.roots]) writeFileSync(join(dir, file), certificatePem(root));
  const roots = readFileSync(join(dir, CA_FILES.roots), 'utf8');
  const error = await t.throwsAsync(finishRootRotation(directory), { instanceOf: UsageError });
  t.is(error?.code, 'LINK_REFUSED');
  t.is(readFileSync(join(outside, 'previous-root.crl.pem'), 'utf8'), VICTIM, 'the file the link reaches is still there');
  t.true(existsSync(join(dir, CA_FILES.crossSigned)) && readFileSync(join(dir, CA_FILES.roots), 'utf8') === roots, 'refused before anything changed');
});

for (const suffix of ['-wal', '-shm', '-journal']) {
  test(`a link beside the ledger (ledger.sqlite${suffix}) is refused before SQLite opens it`, async (t) => {
    const { dir, outside, directory } = caBesideOutside(t);
    await (await directory.ledger()).close();
    const companion = join(dir, `${CA_FILES.ledger}${suffix}`);
    const target = join(outside, `planted${suffix}`);
    symlinkSync(target, companion);
    await refusesLinkAsync(t, () => directory.ledger(), companion, 'opening the ledger');
    await t.throwsAsync(caStatus(directory), { instanceOf: UsageError, code: 'LINK_REFUSED' });
    t.false(existsSync(target), 'SQLite created nothing through the link');
  });
}

test('ca status creates nothing: no ledger where there is none, no -wal or -shm left behind, the ledger unchanged', async (t) => {
  const { base, dir, directory } = caBesideOutside(t);
  const before = await caStatus(directory);
  t.deepEqual(before.certificates, []);
  t.deepEqual(readdirSync(dir), [CA_FILES.config], 'no ledger.sqlite was created');

  await (await directory.ledger()).close();
  const ledger = statSync(join(dir, CA_FILES.ledger));
  // The directory the operator names may itself be a link: that one is their choice, and followed.
  symlinkSync(dir, join(base, 'ca-link'));
  await caStatus(new CaDirectory(join(base, 'ca-link')));
  t.deepEqual(readdirSync(dir).sort(), [CA_FILES.config, CA_FILES.ledger]);
  t.is(statSync(join(dir, CA_FILES.ledger)).mtimeMs, ledger.mtimeMs, 'the ledger was not written');
  const reading = (await directory.readOnlyLedger())!;
  await t.throwsAsync(reading.nextCrl('ff'), { any: true, code: 'SQLITE_READONLY' }, 'nor could it be');
  await reading.close();
});
