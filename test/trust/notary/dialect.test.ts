/**
 * Notary's dialect against what notary 0.7 wrote (test/fixtures/notary-0.7): parsing, both key ids of
 * an x509 key, every signature method, hashes; and Keyward's own signatures and root certificates,
 * made in SoftHSM, read as notary reads them.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyAlgorithm } from '../../../src/crypto/algorithms.js';
import type { KeywardError } from '../../../src/errors.js';
import { canonicalBytes } from '../../../src/trust/canonical-json.js';
import { bareKey, NOTARY, notaryKeyFromSpki, notaryKeyId, signerAs, x509Key } from '../../../src/trust/notary/dialect.js';
import {
  checkFileMeta,
  fileMetaOf,
  formatNotaryExpiry,
  notaryExpiryTime,
  parseNotary,
  type NotaryRootSigned,
  type NotarySnapshotSigned,
  type NotaryTargetsSigned,
  type NotaryTimestampSigned,
} from '../../../src/trust/notary/metadata.js';
import { makeRootCertificate } from '../../../src/trust/notary/root-certificate.js';
import { rootCertificateProblem } from '../../../src/trust/notary/root-rules.js';
import { Metadata } from '../../../src/trust/metadata.js';
import { deviceSigner, signMetadata } from '../../../src/trust/signer.js';
import { freshToken } from '../../harness/keystore.js';
import { PROJECT_ROOT } from '../../harness/run.js';
import { tempDir } from '../../harness/temp.js';
import { certificateSignatureOid } from '../../../src/x509/signature-algorithm.js';

const fixture = (role: string) => readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'notary-0.7', `${role}.json`));

test('notary 0.7 metadata parses; key ids are computed as notary does; every signature verifies; hashes chain timestamp → snapshot → root, targets', (t) => {
  const root = parseNotary<NotaryRootSigned>(fixture('root'), 'root');
  const targets = parseNotary<NotaryTargetsSigned>(fixture('targets'), 'targets');
  const snapshot = parseNotary<NotarySnapshotSigned>(fixture('snapshot'), 'snapshot');
  const timestamp = parseNotary<NotaryTimestampSigned>(fixture('timestamp'), 'timestamp');
  const keys = root.signed.keys;
  for (const [metadata, role] of [
    [root, 'root'],
    [targets, 'targets'],
    [snapshot, 'snapshot'],
    [timestamp, 'timestamp'],
  ] as const) {
    t.notThrows(() => metadata.verifyThreshold(keys, root.signed.roles[role], undefined, NOTARY.verify), role);
  }
  t.deepEqual(
    [root, targets, snapshot, timestamp].map((m) => m.signatures[0]!.method),
    ['ecdsa', 'ecdsa', 'ecdsa', 'eddsa'],
  );
  const rootKey = keys[root.signed.roles.root.keyids[0]!]!;
  t.is(rootKey.keytype, 'ecdsa-x509');
  t.is(notaryKeyId(bareKey(rootKey)), 'bf0075ce25664d2a973c7bef8f0d2cd2650a96c048c89ad9d1a4018fed1160c6', 'the id notary key list shows');
  const delegation = targets.signed.delegations.roles[0]!;
  t.is(delegation.name, 'targets/releases');
  t.is(notaryKeyId(bareKey(targets.signed.delegations.keys[delegation.keyids[0]!]!)), 'a3f01aca74372dfb62b142ba38abfc3c0c4656ae7e319d16dd0003fbcf84d523');
  t.notThrows(() => checkFileMeta(fixture('snapshot'), timestamp.signed.meta.snapshot, 'snapshot', 'snapshot.json'));
  t.notThrows(() => checkFileMeta(fixture('root'), snapshot.signed.meta.root!, 'root', 'root.json'));
  t.notThrows(() => checkFileMeta(fixture('targets'), snapshot.signed.meta.targets!, 'targets', 'targets.json'));
  t.deepEqual(fileMetaOf(fixture('targets')), { length: snapshot.signed.meta.targets!.length, hashes: snapshot.signed.meta.targets!.hashes });
  t.is(Buffer.from(targets.signed.targets.v1!.hashes.sha256!, 'base64').toString('hex'), '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  // The files are written as notary writes them (`signed` canonical): what Keyward writes of the parsed file is the file.
  t.true(root.toBytes().equals(fixture('root')));
  t.true(timestamp.toBytes().equals(fixture('timestamp')));
});

test('one changed byte of signed content breaks the signature; a forged key id, a wrong _type or a hex hash are refused with the role', (t) => {
  const text = fixture('targets').toString();
  const changed = parseNotary<NotaryTargetsSigned>(Buffer.from(text.replace('"length":6', '"length":7')), 'targets');
  const root = parseNotary<NotaryRootSigned>(fixture('root'), 'root');
  const error = t.throws(() => changed.verifyThreshold(root.signed.keys, root.signed.roles.targets, undefined, NOTARY.verify));
  t.is((error as KeywardError).code, 'TUF_THRESHOLD');
  const forged = fixture('root')
    .toString()
    .replace(/"keys":\{"0a04/, '"keys":{"1a04');
  t.is((t.throws(() => parseNotary(Buffer.from(forged), 'root')) as KeywardError).code, 'TUF_KEY_ID');
  t.is((t.throws(() => parseNotary(fixture('targets'), 'snapshot')) as KeywardError).code, 'TUF_TYPE');
  const hex = fixture('snapshot')
    .toString()
    .replace(/"sha256":"[^"]+"/, `"sha256":"${'ab'.repeat(32)}"`);
  const malformed = t.throws(() => parseNotary(Buffer.from(hex), 'snapshot')) as KeywardError;
  t.is(malformed.code, 'TUF_MALFORMED');
  t.regex(malformed.hint ?? '', /not Notary metadata/);
});

test('expires: nanoseconds and offsets read; written in whole seconds, as Go writes such a time back', (t) => {
  t.is(notaryExpiryTime('2036-12-03T03:02:05.030318802Z'), Date.UTC(2036, 11, 3, 3, 2, 5, 30));
  t.is(notaryExpiryTime('2036-12-03T04:02:05+01:00'), Date.UTC(2036, 11, 3, 3, 2, 5));
  t.true(Number.isNaN(notaryExpiryTime('2036-12-03 03:02:05')));
  t.is(formatNotaryExpiry(Date.UTC(2036, 11, 3, 3, 2, 5, 999)), '2036-12-03T03:02:05Z');
});

for (const algorithm of ['p256', 'p384', 'ed25519', 'rsa2048'] as KeyAlgorithm[]) {
  test(`a ${algorithm} key in SoftHSM signs Notary metadata that Notary's verification accepts`, async (t) => {
    const token = await freshToken();
    t.teardown(() => token.keystore.close());
    const signer = await deviceSigner(await token.keystore.generate(`pkcs11:token=${token.label};object=k`, { algorithm }));
    const key = notaryKeyFromSpki(signer.publicKey);
    const metadata = new Metadata('targets', {
      signed: { _type: 'Targets', version: 1, expires: '2030-01-01T00:00:00Z', targets: {}, delegations: { keys: {}, roles: [] } },
      signatures: [],
    });
    await signMetadata(metadata, signerAs(signer, key)!);
    const [signature] = metadata.signatures;
    t.is(signature!.keyid, notaryKeyId(key));
    t.is(signature!.method, algorithm === 'ed25519' ? 'eddsa' : algorithm.startsWith('rsa') ? 'rsapss' : 'ecdsa');
    if (algorithm === 'p256') t.is(Buffer.from(signature!.sig, 'base64').length, 64, 'raw r‖s');
    if (algorithm === 'p384') t.is(Buffer.from(signature!.sig, 'base64').length, 96, 'raw r‖s');
    t.true(NOTARY.verify(key, canonicalBytes(metadata.signed), signature!));
    t.false(NOTARY.verify(key, Buffer.from('something else'), signature!));
    t.false(NOTARY.verify(key, canonicalBytes(metadata.signed), { ...signature!, method: 'rsapkcs1v15' }));
  });
}

test('a root certificate made in the device is one notary takes: CN = the GUN, a leaf, code signing; another GUN or a CA is refused', async (t) => {
  const token = await freshToken();
  t.teardown(() => token.keystore.close());
  const handle = await token.keystore.generate(`pkcs11:token=${token.label};object=root`, { algorithm: 'p256' });
  const certificate = await makeRootCertificate(handle, 'registry.example/team/app');
  t.is(rootCertificateProblem(certificate, 'registry.example/team/app', new Date()), undefined);
  t.regex(rootCertificateProblem(certificate, 'registry.example/team/other', new Date())!, /Common Name is "registry.example\/team\/app", not the GUN/);
  t.regex(rootCertificateProblem(certificate, 'registry.example/team/app', new Date(Date.now() + 11 * 365 * 86_400_000))!, /expired at/);
  t.false(certificate.ca);
  t.truthy(signerAs(await deviceSigner(handle), x509Key(certificate)), 'the device holds the certificate key');
  const other = await token.keystore.generate(`pkcs11:token=${token.label};object=other`, { algorithm: 'p256' });
  t.is(signerAs(await deviceSigner(other), x509Key(certificate)), undefined);
  const ed = await token.keystore.generate(`pkcs11:token=${token.label};object=ed`, { algorithm: 'ed25519' });
  t.is(((await t.throwsAsync(makeRootCertificate(ed, 'registry.example/team/app'))) as KeywardError).code, 'NOTARY_ROOT_KEY_TYPE');
});

test('a root certificate signed with SHA-1 (OpenSSL made it) is refused; its signature algorithm is read from the DER alone', (t) => {
  const dir = tempDir(t, 'keyward-notary-sha1-');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha1', '-subj', '/CN=registry.example\\/team\\/app'],
    { cwd: dir, encoding: 'utf8', input: '', env: { ...process.env, OPENSSL_CONF: '/dev/null' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.is(made.status, 0, made.stderr);
  const certificate = new X509Certificate(made.stdout);
  t.is(certificateSignatureOid(certificate.raw), '1.2.840.10045.4.1');
  t.is(rootCertificateProblem(certificate, 'registry.example/team/app', new Date()), 'it is signed with SHA-1, which Notary refuses');
  const notaryMade = new X509Certificate(
    Buffer.from(
      parseNotary<NotaryRootSigned>(fixture('root'), 'root').signed.keys['0a04309b6485cee57949b001c421a0e280ac73688cbdb604b5e9f2468dab97ec']!.keyval.public,
      'base64',
    ),
  );
  t.is(certificateSignatureOid(notaryMade.raw), '1.2.840.10045.4.3.2', 'ecdsa-with-SHA256, as notary signs its roots');
  t.is(rootCertificateProblem(notaryMade, 'example.com/app', new Date('2027-01-01T00:00:00Z')), undefined);
  t.is(certificateSignatureOid(Buffer.from([0x30, 0x05, 0x30])), undefined);
});
