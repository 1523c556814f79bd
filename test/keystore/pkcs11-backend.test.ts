/**
 * The keystore over PKCS#11, on a real SoftHSM2 token (one per test, in this file's own store),
 * checked by OpenSSL and by reading attributes back from the token.
 */
import test from 'ava';
import { createPublicKey, verify } from 'node:crypto';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { opensslVerifySignature } from '../../src/testing/openssl.js';
import { ALGORITHMS, KEY_ALGORITHMS, type HashName } from '../../src/crypto/algorithms.js';
import { AuthError, ConflictError, NotFoundError, UnavailableError, UsageError } from '../../src/errors.js';
import { findKeys } from '../../src/hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../../src/hsm/pkcs11/module.js';
import { UriError } from '../../src/keystore/uri/index.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { toPem } from '../../src/x509/pem.js';
import { Secret } from '../../src/secret.js';
import { freshToken, recordingInteraction, SO_PIN, USER_PIN, type TestToken } from '../harness/keystore.js';
import { tempDir } from '../harness/temp.js';

const DATA = Buffer.from('data signed inside SoftHSM\n');

/** Every object on the token, described, to show a failed request changed nothing. */
function tokenSnapshot(t: TestToken): string[] {
  const token = Pkcs11Module.open(resolveModulePath())
    .tokens()
    .find((x) => x.label === t.label)!;
  return findKeys(token).map((k) => `${k.label}/${k.id.toString('hex')}/${[k.privateKey, k.publicKey, k.certificate].map(Boolean).join(',')}`);
}

for (const algorithm of KEY_ALGORITHMS) {
  test(`${algorithm}: generated on the token non-extractable, signs, OpenSSL verifies`, async (t) => {
    const tt = await freshToken();
    const handle = await tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm });
    t.is(handle.info.algorithm, algorithm);
    t.true(handle.info.nonExtractable);
    const attributes = handle.info.details.attributes as Record<string, boolean>;
    t.like(attributes, {
      sensitive: true,
      extractable: false,
      alwaysSensitive: true,
      neverExtractable: true,
      local: true,
      private: true,
      sign: true,
      decrypt: false,
      unwrap: false,
      derive: false,
    });
    const signature = await handle.sign(DATA);
    const publicKeyPem = toPem('PUBLIC KEY', await handle.publicKey());
    const result = await opensslVerifySignature({ algorithm, publicKeyPem, data: DATA, signature });
    t.true(result.ok, result.output);
    // And a signature over other data does not verify: the check can fail.
    const other = await opensslVerifySignature({ algorithm, publicKeyPem, data: Buffer.from('other'), signature });
    t.false(other.ok);
  });
}

test('the private key value cannot be read from the token', async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=secret`, { algorithm: 'p256' });
  const token = Pkcs11Module.open(resolveModulePath())
    .tokens()
    .find((x) => x.label === tt.label)!;
  const [key] = findKeys(token, { label: 'secret' });
  const value = token.readAttributes(key!.privateKey!, [pkcs11js.CKA_VALUE]).get(pkcs11js.CKA_VALUE);
  t.is(value, undefined, 'CKA_VALUE of a sensitive key is refused by the token');
});

for (const [algorithm, hash] of [
  ['p256', 'SHA-384'],
  ['p384', 'SHA-256'],
  ['rsa2048', 'SHA-512'],
] as const) {
  test(`${algorithm} with ${hash}: the requested hash is used`, async (t) => {
    const tt = await freshToken();
    const handle = await tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm });
    const signature = await handle.sign(DATA, { hash: hash as HashName });
    const publicKeyPem = toPem('PUBLIC KEY', await handle.publicKey());
    t.not(hash, ALGORITHMS[algorithm].defaultHash);
    t.true((await opensslVerifySignature({ algorithm, publicKeyPem, data: DATA, signature, hash })).ok);
    t.false((await opensslVerifySignature({ algorithm, publicKeyPem, data: DATA, signature })).ok, 'not with the default hash');
  });
}

test('RSA-PSS signatures verify with OpenSSL, raw ECDSA is r‖s', async (t) => {
  const tt = await freshToken();
  const rsa = await tt.keystore.generate(`pkcs11:token=${tt.label};object=rsa`, { algorithm: 'rsa3072' });
  const pss = await rsa.sign(DATA, { padding: 'pss' });
  const rsaPem = toPem('PUBLIC KEY', await rsa.publicKey());
  t.true((await opensslVerifySignature({ algorithm: 'rsa3072', publicKeyPem: rsaPem, data: DATA, signature: pss, padding: 'pss' })).ok);
  t.false((await opensslVerifySignature({ algorithm: 'rsa3072', publicKeyPem: rsaPem, data: DATA, signature: pss })).ok, 'not PKCS#1 v1.5');

  const ec = await tt.keystore.generate(`pkcs11:token=${tt.label};object=ec`, { algorithm: 'p384' });
  const raw = await ec.sign(DATA, { format: 'raw' });
  t.is(raw.length, 96);
  const publicKey = createPublicKey({ key: Buffer.from(await ec.publicKey()), format: 'der', type: 'spki' });
  t.true(verify('sha384', DATA, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw));
  await t.throwsAsync(ec.sign(DATA, { padding: 'pss' }), { instanceOf: UsageError, message: /padding applies to RSA/ });
});

test('many signatures in flight at once all verify (one session per operation)', async (t) => {
  const tt = await freshToken();
  const handle = await tt.keystore.generate(`pkcs11:token=${tt.label};object=busy`, { algorithm: 'p256' });
  const publicKey = createPublicKey({ key: Buffer.from(await handle.publicKey()), format: 'der', type: 'spki' });
  const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
  const signatures = await Promise.all(messages.map((m) => handle.sign(m)));
  t.true(signatures.every((s, i) => verify('sha256', messages[i]!, publicKey, s)));
});

test.serial('one signature awaited at a time is made on the calling thread; a burst blocks the loop briefly, the rest go to worker threads', async (t) => {
  const tt = await freshToken();
  const handle = await tt.keystore.generate(`pkcs11:token=${tt.label};object=alone`, { algorithm: 'p256' });
  const publicKey = createPublicKey({ key: Buffer.from(await handle.publicKey()), format: 'der', type: 'spki' });
  // The module's own calls, counted (serial: no other test signs meanwhile).
  const lib = Pkcs11Module.open(resolveModulePath()).lib;
  const calls = { C_Sign: 0, C_SignAsync: 0 };
  for (const name of ['C_Sign', 'C_SignAsync'] as const) {
    const original = lib[name];
    lib[name] = function (this: pkcs11js.PKCS11, ...args: unknown[]) {
      calls[name]++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as never;
    t.teardown(() => {
      lib[name] = original as never;
    });
  }
  for (let i = 0; i < 50; i++) {
    const message = Buffer.from(`alone ${i}`);
    t.true(verify('sha256', message, publicKey, await handle.sign(message)));
  }
  t.true(calls.C_Sign > 0, 'SoftHSM is quick: a lone signature needs no worker thread');
  t.is(calls.C_Sign + calls.C_SignAsync, 50);

  calls.C_Sign = calls.C_SignAsync = 0;
  const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`together ${i}`));
  const signatures = await Promise.all(messages.map((m) => handle.sign(m)));
  t.true(signatures.every((s, i) => verify('sha256', messages[i]!, publicKey, s)));
  t.is(calls.C_Sign + calls.C_SignAsync, 200);
  // 200 signatures take far longer than the loop may block in a turn (INLINE_SIGN_MAX_MS).
  t.true(calls.C_SignAsync > 0, "past a turn's budget, signatures asked for at once go to worker threads");
});

test('a key is found by label, by id, or by the full URI it was printed with; list shows it', async (t) => {
  const tt = await freshToken();
  const made = await tt.keystore.generate(`pkcs11:token=${tt.label};object=findme`, { algorithm: 'p256' });
  const id = made.info.details.id as string;
  const byId = `pkcs11:token=${tt.label};id=${id.replace(/../g, '%$&')}`;
  for (const uri of [made.info.uri, `pkcs11:token=${tt.label};object=findme`, byId, `pkcs11:object=findme;type=private;token=${tt.label}`]) {
    const handle = await tt.keystore.open(uri);
    t.is(handle.info.uri, made.info.uri, uri);
  }
  const listed = await tt.keystore.list(tt.uri);
  t.deepEqual(
    listed.map((k) => k.label),
    ['findme'],
  );
  t.deepEqual(listed[0]!.details.objects, ['private', 'public']);
});

test('certificates: stored with the key, read back, and a certificate for another key is refused', async (t) => {
  const tt = await freshToken();
  const a = await tt.keystore.generate(`pkcs11:token=${tt.label};object=a`, { algorithm: 'p256' });
  const b = await tt.keystore.generate(`pkcs11:token=${tt.label};object=b`, { algorithm: 'p256' });
  const { createSelfSignedCertificate } = await import('../../src/certificates/self-signed.js');
  const certA = new Uint8Array((await createSelfSignedCertificate(a, { subject: 'CN=a', days: 1 })).rawData);
  t.is(await a.certificate(), undefined);
  await a.setCertificate(certA);
  t.deepEqual(Buffer.from((await a.certificate())!), Buffer.from(certA));
  const before = tokenSnapshot(tt);
  await t.throwsAsync(b.setCertificate(certA), { instanceOf: UsageError, message: /for another key/ });
  await t.throwsAsync(b.setCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), { instanceOf: UsageError, message: /not a valid X.509/ });
  t.deepEqual(tokenSnapshot(tt), before, 'refused certificates change nothing');
  // Replacing keeps exactly one certificate object.
  const certA2 = new Uint8Array((await createSelfSignedCertificate(a, { subject: 'CN=a2', days: 2 })).rawData);
  await a.setCertificate(certA2);
  const reopened = await tt.keystore.open(`pkcs11:token=${tt.label};object=a`);
  t.deepEqual(Buffer.from((await reopened.certificate())!), Buffer.from(certA2));
  t.true(reopened.info.hasCertificate);
});

test('delete destroys the private key, public key and certificate', async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=keep`, { algorithm: 'p256' });
  const doomed = await tt.keystore.generate(`pkcs11:token=${tt.label};object=doomed`, { algorithm: 'ed25519' });
  const deleted = await tt.keystore.delete(`pkcs11:token=${tt.label};object=doomed`);
  t.is(deleted.uri, doomed.info.uri);
  t.deepEqual(
    (await tt.keystore.list(tt.uri)).map((k) => k.label),
    ['keep'],
  );
  await t.throwsAsync(tt.keystore.open(doomed.info.uri), { instanceOf: NotFoundError });
});

// --- bad input: a clear error, and the token as it was -------------------------------------------

test('a wrong PIN is refused with what the token says of its retries, and nothing changes', async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm: 'p256' });
  const before = tokenSnapshot(tt);
  await tt.keystore.close(); // log out: PKCS#11 login is shared by the whole process
  const wrong = new Keystore({ env: { KEYWARD_PIN: '000000' }, interaction: recordingInteraction([]) });
  const error = await t.throwsAsync(wrong.generate(`pkcs11:token=${tt.label};object=k2`, { algorithm: 'p256' }), { instanceOf: AuthError });
  t.is(error.code, 'PIN_INCORRECT');
  t.regex(error.message, new RegExp(`wrong user PIN for token "${tt.label}"`));
  // SoftHSM raises CKF_USER_PIN_COUNT_LOW after a wrong PIN (and never locks): a wrong PIN since the last login, no count.
  t.regex(error.message, /the token does not say how many attempts remain \(it reports a wrong PIN since the last successful login\)$/);
  t.is(error.details?.pin, 'count-low');
  t.false(error.message.includes('000000'));
  await tt.keystore.list(tt.uri); // log in again to see private objects
  t.deepEqual(tokenSnapshot(tt), before);
});

test('no PIN source and no terminal: a clear error naming the ways to give one', async (t) => {
  const tt = await freshToken();
  const noPin = new Keystore({ env: {}, interaction: recordingInteraction([]) });
  const error = await t.throwsAsync(noPin.generate(`pkcs11:token=${tt.label};object=k`, { algorithm: 'p256' }), { instanceOf: AuthError });
  t.is(error.code, 'PIN_REQUIRED');
  t.regex(error.hint!, /pin-source=file:/);
  t.regex(error.hint!, /KEYWARD_PIN/);
});

test('PIN sources: pin-source file (with a warning when others can read it), pin-value with a warning', async (t) => {
  const tt = await freshToken();
  const dir = tempDir(t, 'keyward-pin-');
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, `${USER_PIN}\n`, { mode: 0o600 });
  const warnings: string[] = [];
  const keystore = new Keystore({ env: {}, interaction: recordingInteraction(warnings) });
  await keystore.generate(`pkcs11:token=${tt.label};object=f?pin-source=file:${pinFile}`, { algorithm: 'p256' });
  await keystore.close();
  t.deepEqual(warnings, []);
  chmodSync(pinFile, 0o644);
  const other = new Keystore({ env: {}, interaction: recordingInteraction(warnings) });
  await other.list(`pkcs11:token=${tt.label}?pin-source=file:${pinFile}`);
  await other.close();
  t.regex(warnings.join('\n'), /can be read by other users/);
  const third = new Keystore({ env: {}, interaction: recordingInteraction(warnings) });
  t.is((await third.list(`pkcs11:token=${tt.label}?pin-value=${USER_PIN}`)).length, 1);
  t.regex(warnings.join('\n'), /pin-value/);
  t.false(warnings.join('\n').includes(USER_PIN));
});

test('a missing key: not found, with the keys that are there', async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=present`, { algorithm: 'p256' });
  const error = await t.throwsAsync(tt.keystore.open(`pkcs11:token=${tt.label};object=absent`), { instanceOf: NotFoundError });
  t.is(error.code, 'KEY_NOT_FOUND');
  t.regex(error.hint!, /object=present/);
  const noToken = await t.throwsAsync(tt.keystore.open('pkcs11:token=no-such-token;object=x'), { instanceOf: NotFoundError });
  t.is(noToken.code, 'TOKEN_NOT_FOUND');
  t.regex(noToken.hint!, new RegExp(`token=${tt.label}`));
});

test('unsupported algorithm, taken label, ambiguous and unnamed keys: clear errors, token unchanged', async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm: 'p256' });
  const before = tokenSnapshot(tt);
  await t.throwsAsync(tt.keystore.generate(`pkcs11:token=${tt.label};object=x`, { algorithm: 'rsa1024' as never }), { instanceOf: UsageError });
  const taken = await t.throwsAsync(tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm: 'p384' }), { instanceOf: ConflictError });
  t.is(taken.code, 'LABEL_IN_USE');
  await t.throwsAsync(tt.keystore.generate(`pkcs11:token=${tt.label}`, { algorithm: 'p256' }), { instanceOf: UsageError, message: /needs a label/ });
  await t.throwsAsync(tt.keystore.generate(`pkcs11:token=${tt.label};object=p;type=cert`, { algorithm: 'p256' }), { instanceOf: UsageError });
  await t.throwsAsync(tt.keystore.generate(`pkcs11:token=${tt.label};object=p`, { algorithm: 'p256', touchPolicy: 'always' }), {
    instanceOf: UsageError,
    message: /YubiKey/,
  });
  await t.throwsAsync(tt.keystore.delete(`pkcs11:token=${tt.label}`), { instanceOf: UsageError, message: /names a token but no key/ });
  await t.throwsAsync(tt.keystore.open(`pkcs11:token=${tt.label};object=k;type=secret-key`), { instanceOf: UsageError });
  const malformed = await t.throwsAsync(tt.keystore.open(`pkcs11:token=${tt.label};objekt=k`), { instanceOf: UriError });
  t.is(malformed.position, 7 + `token=${tt.label};`.length);
  t.deepEqual(tokenSnapshot(tt), before);
});

test('an unknown module: unavailable, with what to install', async (t) => {
  const tt = await freshToken();
  const error = await t.throwsAsync(tt.keystore.open('pkcs11:token=x;object=y?module-path=/nonexistent/libsofthsm2.so'), { instanceOf: UnavailableError });
  t.is(error.code, 'MODULE_NOT_FOUND');
  t.regex(error.hint!, /apt-get install softhsm2/);
  const byName = await t.throwsAsync(tt.keystore.open('pkcs11:token=x;object=y?module-name=no-such-module'), { instanceOf: UnavailableError });
  t.regex(byName.message, /no PKCS#11 module named "no-such-module"/);
  const notALibrary = await t.throwsAsync(tt.keystore.open('pkcs11:token=x;object=y?module-path=/etc/hostname'), { instanceOf: UnavailableError });
  t.is(notALibrary.code, 'MODULE_LOAD_FAILED');
});

test("module-name finds SoftHSM through p11-kit's registry or the library directories", async (t) => {
  const tt = await freshToken();
  await tt.keystore.generate(`pkcs11:token=${tt.label};object=named`, { algorithm: 'p256' });
  const handle = await tt.keystore.open(`pkcs11:token=${tt.label};object=named?module-name=softhsm2`);
  t.is(handle.info.label, 'named');
  t.regex(handle.info.uri, /module-path=.*softhsm2\.so/);
});

test('capabilities list what the token can generate; SoftHSM has no attestation or touch', async (t) => {
  const tt = await freshToken();
  const caps = await tt.keystore.capabilities(tt.uri);
  t.deepEqual(caps.algorithms, KEY_ALGORITHMS);
  t.false(caps.attestation);
  t.false(caps.touch);
  const handle = await tt.keystore.generate(`pkcs11:token=${tt.label};object=k`, { algorithm: 'p256' });
  await t.throwsAsync(handle.attest(), { instanceOf: UsageError, message: /no key attestation/ });
});

test('token PINs: change, then unblock with the SO PIN', async (t) => {
  const tt = await freshToken();
  const { Secret } = await import('../../src/secret.js');
  await tt.administration.changePin(tt.uri, Secret.fromString('new-pin-1'));
  await tt.keystore.close();
  const oldPin = new Keystore({ env: { KEYWARD_PIN: USER_PIN }, interaction: recordingInteraction([]) });
  await t.throwsAsync(oldPin.generate(`pkcs11:token=${tt.label};object=x`, { algorithm: 'p256' }), { instanceOf: AuthError, message: /wrong user PIN/ });
  const newPin = new Keystore({ env: { KEYWARD_PIN: 'new-pin-1' } });
  await newPin.generate(`pkcs11:token=${tt.label};object=after-change`, { algorithm: 'p256' });
  await newPin.close();
  await t.throwsAsync(tt.administration.unblock(tt.uri, Secret.fromString('wrong-so'), Secret.fromString('x-pin-2')), {
    instanceOf: AuthError,
    message: /wrong SO PIN/,
  });
  await tt.administration.unblock(tt.uri, Secret.fromString(SO_PIN), Secret.fromString('unblocked-3'));
  const keys = await new Keystore({ env: { KEYWARD_PIN: 'unblocked-3' } }).list(tt.uri);
  t.deepEqual(
    keys.map((k) => k.label),
    ['after-change'],
  );
});

test('token init refuses a label in use and never re-initialises a token', async (t) => {
  const tt = await freshToken();
  const { Secret } = await import('../../src/secret.js');
  const error = t.throws(
    () => tt.administration.initToken('pkcs11:', { label: tt.label, soPin: Secret.fromString('so-so-so'), userPin: Secret.fromString('user-user') }),
    { instanceOf: ConflictError },
  );
  t.is(error.code, 'TOKEN_LABEL_IN_USE');
  const slotId = tt.administration.tokens(tt.uri)[0]!.slotId;
  const again = t.throws(
    () =>
      tt.administration.initToken(`pkcs11:slot-id=${slotId}`, {
        label: 'other',
        soPin: Secret.fromString('so-so-so'),
        userPin: Secret.fromString('user-user'),
      }),
    { instanceOf: ConflictError },
  );
  t.is(again.code, 'NO_FREE_SLOT');
});

test('a key URI as the keystore prints it (type=private) opens with the PIN asked at the prompt, not only with one from the environment', async (t) => {
  const tt = await freshToken();
  const printed = (await tt.keystore.generate(`pkcs11:token=${tt.label};object=printed`, { algorithm: 'p256' })).info.uri;
  t.regex(printed, /type=private/);
  await tt.keystore.close();
  const asked: string[] = [];
  const prompting = new Keystore({
    env: {},
    interaction: { ...recordingInteraction([]), askSecret: async (prompt) => (asked.push(prompt), Secret.fromString(USER_PIN)) },
  });
  t.teardown(() => prompting.close());
  const handle = await prompting.open(printed);
  t.is(handle.info.label, 'printed');
  t.is(asked.length, 1, 'the PIN was asked for once');
  // A label that is not there still costs no PIN prompt.
  await t.throwsAsync(prompting.open(`pkcs11:token=${tt.label};object=misspelt;type=private`), { instanceOf: NotFoundError, code: 'KEY_NOT_FOUND' });
});
