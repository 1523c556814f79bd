/**
 * The keystore over YubiKey PIV, with virtual YubiKeys attached in-process: URIs, generation with
 * policies, signing, the WebCrypto bridge, attestation, PIN safety and clear errors.
 */
import test from 'ava';
import { createPublicKey, verify } from 'node:crypto';
import { opensslVerifySignature } from '../../src/testing/openssl.js';
import { AuthError, CancelledError, ConflictError, NotFoundError, UsageError, VerificationError } from '../../src/errors.js';
import { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { Keystore, type KeystoreOptions } from '../../src/keystore/keystore.js';
import { UriError } from '../../src/keystore/uri/index.js';
import { hardwareKeyPair, KeywardCrypto } from '../../src/keystore/webcrypto.js';
import { toPem } from '../../src/x509/pem.js';
import { run } from '../harness/run.js';
import * as x509 from '../../src/x509/peculiar.js';

const DATA = Buffer.from('signed by a YubiKey slot through the keystore\n');

interface Fixture {
  card: VirtualYubiKey;
  keystore: Keystore;
  warnings: string[];
  uri: (slot?: string) => string;
}

async function fixture(
  options: { firmware?: '5.4.3' | '5.7.1'; interaction?: Partial<Interaction>; keystore?: Partial<KeystoreOptions> } = {},
): Promise<Fixture> {
  const card = await VirtualYubiKey.create({ firmware: options.firmware ?? '5.7.1' }, { touch: { kind: 'auto', delayMs: 10 } });
  const warnings: string[] = [];
  const keystore = new Keystore({
    attachedCards: [{ reader: `virtual ${card.serial}`, card }],
    env: { KEYWARD_PIN: '123456' },
    interaction: {
      askSecret: async () => undefined,
      confirm: async () => undefined,
      warn: (m) => warnings.push(m),
      notice: () => ({ clear: () => undefined }),
      ...options.interaction,
    },
    ...options.keystore,
  });
  return { card, keystore, warnings, uri: (slot) => `yubikey:serial=${card.serial}${slot ? `;slot=${slot}` : ''}` };
}

test('generate with policies, sign (DER and raw), list: the slot is a key like any other', async (t) => {
  const f = await fixture();
  const handle = await f.keystore.generate(f.uri('9c'), { algorithm: 'p256', pinPolicy: 'once', touchPolicy: 'cached' });
  t.is(handle.info.uri, f.uri('9c'));
  t.like(handle.info, { backend: 'yubikey', algorithm: 'p256', nonExtractable: true, hasPrivateKey: true });
  t.like(handle.info.details, { slot: '9c', pinPolicy: 'once', touchPolicy: 'cached', origin: 'generated' });
  const spki = await handle.publicKey();
  const der = await handle.sign(DATA);
  t.true((await opensslVerifySignature({ algorithm: 'p256', publicKeyPem: toPem('PUBLIC KEY', spki), data: DATA, signature: der })).ok);
  const raw = await handle.sign(DATA, { format: 'raw' });
  t.is(raw.length, 64);
  t.true(verify('sha256', DATA, { key: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), dsaEncoding: 'ieee-p1363' }, raw));
  const listed = await f.keystore.list(f.uri());
  t.deepEqual(
    listed.map((k) => k.uri),
    [f.uri('9c')],
  );
  t.regex(f.warnings.join('\n'), /still uses the factory PIN, PUK, management key/);
  t.is(f.warnings.filter((w) => w.includes('factory')).length, 1, 'warned once, not at every operation');
});

test('a slot that holds a key is not overwritten unless asked', async (t) => {
  const f = await fixture();
  const first = await f.keystore.generate(f.uri('9a'), { algorithm: 'p256' });
  const firstKey = Buffer.from(await first.publicKey());
  const error = await t.throwsAsync(f.keystore.generate(f.uri('9a'), { algorithm: 'p384' }), { instanceOf: ConflictError });
  t.is(error.code, 'SLOT_IN_USE');
  t.deepEqual(Buffer.from(await (await f.keystore.open(f.uri('9a'))).publicKey()), firstKey, 'the old key is untouched');
  const second = await f.keystore.generate(f.uri('9a'), { algorithm: 'p384', overwrite: true });
  t.is(second.info.algorithm, 'p384');
});

test('x509 signs a CSR with a YubiKey slot through the WebCrypto bridge; OpenSSL verifies it', async (t) => {
  const f = await fixture();
  const handle = await f.keystore.generate(f.uri('9d'), { algorithm: 'rsa2048' });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=node-1, O=cluster-a', keys: await hardwareKeyPair(handle), signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
    new KeywardCrypto(),
  );
  const verified = await run('openssl', ['req', '-verify', '-noout'], { input: csr.toString('pem') });
  t.regex(verified.stdout + verified.stderr, /verify OK|Certificate request self-signature verify OK/);
});

test("attestation: verified with the device's root, refused without it", async (t) => {
  const f = await fixture({ keystore: {} });
  await f.keystore.generate(f.uri('9e'), { algorithm: 'ed25519', touchPolicy: 'never' });
  const untrusted = await t.throwsAsync((await f.keystore.open(f.uri('9e'))).attest(), { instanceOf: VerificationError });
  t.is(untrusted.code, 'ATTESTATION_UNTRUSTED');
  const trusting = new Keystore({
    attachedCards: [{ reader: 'v', card: f.card }],
    attestationRoots: [f.card.attestationRoot],
    interaction: { askSecret: async () => undefined, confirm: async () => undefined, warn: () => undefined, notice: () => ({ clear: () => undefined }) },
  });
  const attestation = await (await trusting.open(f.uri('9e'))).attest();
  t.like(attestation.claims, { slot: '9e', serial: f.card.serial, firmware: '5.7.1', pinPolicy: 'never', touchPolicy: 'never' });
  t.is(attestation.chain.length, 2);
});

test('delete: on 5.7 the key and its certificate go; on 5.4 a clear refusal', async (t) => {
  const modern = await fixture();
  await modern.keystore.generate(modern.uri('9a'), { algorithm: 'p256' });
  const deleted = await modern.keystore.delete(modern.uri('9a'));
  t.is(deleted.uri, modern.uri('9a'));
  await t.throwsAsync(modern.keystore.open(modern.uri('9a')), { instanceOf: NotFoundError });
  const old = await fixture({ firmware: '5.4.3' });
  await old.keystore.generate(old.uri('9a'), { algorithm: 'p256' });
  const refused = await t.throwsAsync(old.keystore.delete(old.uri('9a')), { instanceOf: UsageError });
  t.regex(refused.message, /cannot delete keys \(firmware 5\.7 or later can\)/);
  t.truthy(await (await old.keystore.open(old.uri('9a'))).publicKey(), 'the key is still there');
});

test('PIN safety through the keystore: wrong PIN shows tries left; the last try is kept unless confirmed', async (t) => {
  let answer: boolean | undefined = undefined; // what the person says when asked; changed below
  const f = await fixture({ interaction: { confirm: async () => answer } });
  await f.keystore.generate(f.uri('9a'), { algorithm: 'p256', pinPolicy: 'always' });
  const wrong = new Keystore({
    attachedCards: [{ reader: 'w', card: f.card }],
    env: { KEYWARD_PIN: '000000' },
    interaction: { askSecret: async () => undefined, confirm: async () => answer, warn: () => undefined, notice: () => ({ clear: () => undefined }) },
  });
  const handle = await wrong.open(f.uri('9a'));
  for (const left of ['2 tries left', '1 try left']) {
    const error = await t.throwsAsync(handle.sign(DATA), { instanceOf: AuthError });
    t.regex(error.message, new RegExp(left));
  }
  const noTerminal = await t.throwsAsync(handle.sign(DATA), { instanceOf: AuthError });
  t.is(noTerminal.code, 'PIN_FINAL_TRY');
  answer = false;
  await t.throwsAsync(handle.sign(DATA), { instanceOf: CancelledError });
  const session = await (
    await import('../../src/hsm/piv/session.js')
  ).PivSession.open(new (await import('../../src/hsm/piv/transport/in-process.js')).InProcessTransport(f.card));
  t.is((await session.pinStatus()).retriesLeft, 1, 'the last try is still there');
  // The right PIN with --allow-final-try works.
  const allowed = new Keystore({ attachedCards: [{ reader: 'a', card: f.card }], env: { KEYWARD_PIN: '123456' }, allowFinalTry: true });
  await (await allowed.open(f.uri('9a'))).sign(DATA);
  t.is((await session.pinStatus()).retriesLeft, 3);
});

test('no PIN source and no terminal; a management key needed and unknown: clear errors', async (t) => {
  const f = await fixture();
  await f.keystore.generate(f.uri('9a'), { algorithm: 'p256' });
  const noPin = new Keystore({
    attachedCards: [{ reader: 'n', card: f.card }],
    env: {},
    interaction: { askSecret: async () => undefined, confirm: async () => undefined, warn: () => undefined, notice: () => ({ clear: () => undefined }) },
  });
  const error = await t.throwsAsync((await noPin.open(f.uri('9a'))).sign(DATA), { instanceOf: AuthError });
  t.is(error.code, 'PIN_REQUIRED');
  t.regex(error.hint!, /pin-source=file:/);
  const session = await (await f.keystore.administration('yubikey')).session(f.uri());
  await session.setManagementKey(Buffer.alloc(24, 9), 'aes192');
  const needsKey = await t.throwsAsync(noPin.generate(f.uri('9d'), { algorithm: 'p256' }), { instanceOf: AuthError });
  t.is(needsKey.code, 'MANAGEMENT_KEY_REQUIRED');
  const withKey = new Keystore({ attachedCards: [{ reader: 'k', card: f.card }], env: { KEYWARD_MANAGEMENT_KEY: Buffer.alloc(24, 9).toString('hex') } });
  t.is((await withKey.generate(f.uri('9d'), { algorithm: 'p256' })).info.algorithm, 'p256');
});

test('URIs: malformed, no slot, unknown serial, ambiguous devices', async (t) => {
  const a = await fixture();
  const b = await VirtualYubiKey.create({}, {});
  const both = new Keystore({
    attachedCards: [
      { reader: 'a', card: a.card },
      { reader: 'b', card: b },
    ],
    interaction: { askSecret: async () => undefined, confirm: async () => undefined, warn: () => undefined, notice: () => ({ clear: () => undefined }) },
  });
  const malformed = await t.throwsAsync(both.open('yubikey:serial=12;slot=9z'), { instanceOf: UriError });
  t.regex(malformed.message, /"slot" must be one of 9a, 9c, 9d, 9e, 82/);
  await t.throwsAsync(both.open(a.uri()), { instanceOf: UsageError, message: /names a YubiKey but no slot/ });
  const missing = await t.throwsAsync(both.open('yubikey:serial=99999999;slot=9a'), { instanceOf: NotFoundError });
  t.regex(missing.hint!, new RegExp(`serial=${a.card.serial}`));
  const ambiguous = await t.throwsAsync(both.open('yubikey:slot=9a'), { instanceOf: ConflictError });
  t.regex(ambiguous.hint!, new RegExp(`serial=${b.serial}`));
  t.is((await both.open('yubikey:slot=9C;serial=' + a.card.serial).catch((e) => e)).code, 'KEY_NOT_FOUND', 'slot names are hex, any case');
});
