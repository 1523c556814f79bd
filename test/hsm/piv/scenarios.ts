/**
 * What the PIV driver must do, written once and run against the virtual YubiKey twice: in-process
 * and through a real pcscd (see in-process.test.ts and pcsc.test.ts).
 */
import type { ExecutionContext } from 'ava';
import { opensslVerifySignature } from '../../../src/testing/openssl.js';
import type { KeyAlgorithm } from '../../../src/crypto/algorithms.js';
import { AuthError, KeywardError, UsageError } from '../../../src/errors.js';
import { verifyAttestation } from '../../../src/hsm/piv/attestation.js';
import { PinIncorrectError, TouchTimeoutError } from '../../../src/hsm/piv/errors.js';
import { PivSession, type PivCredentials } from '../../../src/hsm/piv/session.js';
import { DEFAULT_MANAGEMENT_KEY } from '../../../src/hsm/piv/spec.js';
import { yubicoAttestationTrust } from '../../../src/hsm/piv/yubico-roots.js';
import type { FirmwareProfile } from '../../../src/hsm/virtual-yubikey/firmware.js';
import { toPem } from '../../../src/x509/pem.js';
import { Secret } from '../../../src/secret.js';
import { selfSignedFor } from './certificates.js';

export interface DeviceOptions {
  firmware?: FirmwareProfile;
  serial?: number;
  touch?: 'auto' | 'manual';
  touchTimeoutSeconds?: number;
}

export interface TestDevice {
  open(credentials?: Partial<PivCredentials>, options?: { onTouchWait?: () => { clear(): void } }): Promise<PivSession>;
  touch(): Promise<void>;
  attestationRoot(): Uint8Array;
  attestationIntermediates(): Uint8Array[];
  close(): Promise<void>;
}

export type DeviceFactory = (options?: DeviceOptions) => Promise<TestDevice>;

export const PIN = '123456';
export const PUK = '12345678';

export function credentials(overrides: Partial<PivCredentials> = {}): PivCredentials {
  return {
    pin: async () => Secret.fromString(PIN),
    puk: async () => Secret.fromString(PUK),
    managementKey: async () => DEFAULT_MANAGEMENT_KEY,
    confirmFinalTry: async () => false,
    ...overrides,
  };
}

const DATA = Buffer.from('signed on a virtual YubiKey\n');

/** ava's `test` or `test.serial`. */
export type Register = (title: string, implementation: (t: ExecutionContext) => Promise<void>) => void;

export function pivScenarios(test: Register, make: DeviceFactory): void {
  const withDevice = async (options: DeviceOptions, work: (device: TestDevice) => Promise<void>) => {
    const device = await make(options);
    try {
      await work(device);
    } finally {
      await device.close();
    }
  };

  const signing: Array<[KeyAlgorithm, '5.4.3' | '5.7.1']> = [
    ['p256', '5.4.3'],
    ['p384', '5.4.3'],
    ['rsa2048', '5.4.3'],
    ['rsa3072', '5.7.1'],
    ['ed25519', '5.7.1'],
  ];
  for (const [algorithm, firmware] of signing) {
    test(`${algorithm} (firmware ${firmware}): generated on the card, signature verified by OpenSSL`, (t) =>
      withDevice({ firmware }, async (device) => {
        const session = await device.open(credentials());
        const spki = await session.generateKey(0x9a, algorithm);
        const slot = await session.slotInfo(0x9a);
        t.is(slot?.algorithm, algorithm);
        t.is(slot?.origin, 'generated');
        t.deepEqual(Buffer.from(slot!.publicKey!), Buffer.from(spki));
        const info = (await import('../../../src/crypto/algorithms.js')).ALGORITHMS[algorithm];
        const signature = await session.sign(0x9a, algorithm, DATA, { hash: info.defaultHash }, slot);
        const publicKeyPem = toPem('PUBLIC KEY', spki);
        const verified = await opensslVerifySignature({ algorithm, publicKeyPem, data: DATA, signature });
        t.true(verified.ok, verified.output);
        t.false((await opensslVerifySignature({ algorithm, publicKeyPem, data: Buffer.from('tampered'), signature })).ok);
        if (info.family === 'rsa') {
          const pss = await session.sign(0x9a, algorithm, DATA, { hash: 'SHA-256', padding: 'pss' }, slot);
          t.true((await opensslVerifySignature({ algorithm, publicKeyPem, data: DATA, signature: pss, padding: 'pss' })).ok);
        }
      }));
  }

  test('an algorithm the firmware lacks is refused before anything is sent', (t) =>
    withDevice({ firmware: '5.4.3' }, async (device) => {
      const session = await device.open(credentials());
      const error = await t.throwsAsync(session.generateKey(0x9a, 'ed25519'), { instanceOf: UsageError });
      t.regex(error.message, /needs YubiKey firmware 5\.7\.0 or later; this one has 5\.4\.3/);
      t.is(await session.slotInfo(0x9a), undefined);
    }));

  test("certificate round trip: stored in the slot's object, read back, deleted", (t) =>
    withDevice({}, async (device) => {
      const session = await device.open(credentials());
      const spki = await session.generateKey(0x9c, 'p256');
      const certificate = await selfSignedFor(spki, 'CN=round trip');
      t.is(await session.getCertificate(0x9c), undefined);
      await session.putCertificate(0x9c, certificate);
      t.deepEqual(Buffer.from((await session.getCertificate(0x9c))!), Buffer.from(certificate));
      await session.deleteCertificate(0x9c);
      t.is(await session.getCertificate(0x9c), undefined);
    }));

  test("attestation verifies against the card's own root, and not against Yubico's alone", (t) =>
    withDevice({ serial: 31415926 }, async (device) => {
      const session = await device.open(credentials());
      const spki = await session.generateKey(0x9c, 'p256', { pinPolicy: 'always', touchPolicy: 'cached' });
      const chain = await session.attest(0x9c);
      const own = { roots: [device.attestationRoot()], intermediates: [] };
      const verified = verifyAttestation({ ...chain, trust: own, expectedPublicKey: spki });
      t.deepEqual(verified.claims, { firmware: '5.7.1', serial: 31415926, pinPolicy: 'always', touchPolicy: 'cached', formFactor: 'USB-A keychain' });
      t.is(verified.path.length, 3);
      t.throws(() => verifyAttestation({ ...chain, trust: yubicoAttestationTrust() }), { code: 'ATTESTATION_UNTRUSTED' } as never);
      const other = await session.generateKey(0x9d, 'p256');
      t.throws(() => verifyAttestation({ ...chain, trust: own, expectedPublicKey: other }), { code: 'ATTESTATION_KEY_MISMATCH' } as never);
    }));

  test('firmware 5.7.4: the attestation chains through two intermediate tiers the card does not hold', (t) =>
    withDevice({ firmware: '5.7.4', serial: 27182818 }, async (device) => {
      const session = await device.open(credentials());
      const spki = await session.generateKey(0x9a, 'p384');
      const chain = await session.attest(0x9a);
      const intermediates = device.attestationIntermediates();
      t.is(intermediates.length, 2);
      const verified = verifyAttestation({ ...chain, trust: { roots: [device.attestationRoot()], intermediates }, expectedPublicKey: spki });
      t.deepEqual(verified.path.slice(1), [
        'CN=Keyward Virtual YubiKey PIV Attestation 27182818',
        'CN=Keyward Virtual YubiKey PIV Attestation A 1, O=Keyward emulator - not a real YubiKey',
        'CN=Keyward Virtual YubiKey Attestation Intermediate A 1, O=Keyward emulator - not a real YubiKey',
        'CN=Keyward Virtual YubiKey Attestation Root 1, O=Keyward emulator - not a real YubiKey',
      ]);
      t.like(verified.claims, { firmware: '5.7.4', serial: 27182818 });
      const rootOnly = t.throws(() => verifyAttestation({ ...chain, trust: { roots: [device.attestationRoot()], intermediates: [] } }), {
        code: 'ATTESTATION_UNTRUSTED',
      } as never);
      t.regex(
        rootOnly!.message,
        /^no certificate in the bundle issued 'CN=Keyward Virtual YubiKey PIV Attestation 27182818'; add the intermediate 'CN=Keyward Virtual YubiKey PIV Attestation A 1, O=Keyward emulator - not a real YubiKey'/,
      );
      // Yubico's bundle knows nothing of the emulator's PKI: a virtual card never passes for a real one.
      t.throws(() => verifyAttestation({ ...chain, trust: yubicoAttestationTrust() }), { code: 'ATTESTATION_UNTRUSTED' } as never);
    }));

  test('PIN change, unblock with the PUK, and set retries', (t) =>
    withDevice({}, async (device) => {
      const session = await device.open(credentials());
      const wrong = await t.throwsAsync(session.changePin(Secret.fromString('999999'), Secret.fromString('654321')), { instanceOf: PinIncorrectError });
      t.is(wrong.retriesLeft, 2);
      t.regex(wrong.message, /wrong PIN .*: 2 tries left/);
      await session.changePin(Secret.fromString(PIN), Secret.fromString('654321'));
      t.like(await session.pinStatus(), { retriesLeft: 3, isDefault: false });
      await t.throwsAsync(session.verifyPin(Secret.fromString(PIN)), { instanceOf: PinIncorrectError });
      await session.verifyPin(Secret.fromString('654321'));
      await session.unblockPin(Secret.fromString(PUK), Secret.fromString('11223344'));
      await session.verifyPin(Secret.fromString('11223344'));
      const pinCredentials = await device.open(credentials({ pin: async () => Secret.fromString('11223344') }));
      await pinCredentials.setPinRetries(5, 4);
      t.like(await pinCredentials.pinStatus(), { retriesLeft: 5, totalRetries: 5, isDefault: true });
      t.like(await pinCredentials.pukStatus(), { retriesLeft: 4, totalRetries: 4, isDefault: true });
    }));

  test('management key: 3DES default → AES-192; the old key no longer works', (t) =>
    withDevice({ firmware: '5.4.3' }, async (device) => {
      const session = await device.open(credentials());
      t.like(await session.managementKeyInfo(), { algorithm: 'tdes', isDefault: true });
      const aesKey = Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff0011223344556677', 'hex'));
      await session.setManagementKey(aesKey, 'aes192');
      t.like(await session.managementKeyInfo(), { algorithm: 'aes192', isDefault: false });
      const withNew = await device.open(credentials({ managementKey: async () => aesKey }));
      await withNew.generateKey(0x9a, 'p256');
      const withOld = await device.open(credentials());
      const error = await t.throwsAsync(withOld.generateKey(0x9d, 'p256'), { instanceOf: AuthError });
      t.is(error.code, 'MANAGEMENT_KEY_INCORRECT');
      t.is(await withOld.slotInfo(0x9d), undefined);
    }));

  test('reset blocks PIN and PUK itself, then erases keys and restores factory credentials', (t) =>
    withDevice({}, async (device) => {
      const session = await device.open(credentials());
      await session.generateKey(0x9a, 'p256');
      await session.changePin(Secret.fromString(PIN), Secret.fromString('24682468'));
      await session.resetToFactory();
      t.is(await session.slotInfo(0x9a), undefined);
      t.like(await session.pinStatus(), { retriesLeft: 3, isDefault: true });
      t.like(await session.managementKeyInfo(), { isDefault: true });
    }));

  test('wrong PIN down to the last try: the driver stops and asks, and never spends it unasked', (t) =>
    withDevice({}, async (device) => {
      let asked = 0;
      let consent = false;
      const session = await device.open(credentials({ confirmFinalTry: async () => (asked++, consent) }));
      for (const left of [2, 1]) {
        const error = await t.throwsAsync(session.verifyPin(Secret.fromString('000000')), { instanceOf: PinIncorrectError });
        t.is(error.retriesLeft, left);
      }
      t.is(asked, 0, 'not asked while tries remain');
      const refused = await t.throwsAsync(session.verifyPin(Secret.fromString('000000')), { instanceOf: AuthError });
      t.is(refused.code, 'PIN_FINAL_TRY');
      t.is(asked, 1);
      t.is((await session.pinStatus()).retriesLeft, 1, 'the last try is still there');
      // The right PIN, with consent: works and restores the counter.
      consent = true;
      await session.verifyPin(Secret.fromString(PIN));
      t.is((await session.pinStatus()).retriesLeft, 3);
    }));

  test('a touch that never comes: the notice is shown, then a clear touch time-out error', (t) =>
    withDevice({ touch: 'manual', touchTimeoutSeconds: 1 }, async (device) => {
      let shown = 0;
      let cleared = 0;
      const session = await device.open(credentials(), { onTouchWait: () => (shown++, { clear: () => cleared++ }) });
      await session.generateKey(0x9a, 'p256', { touchPolicy: 'always', pinPolicy: 'never' });
      const error = await t.throwsAsync(session.sign(0x9a, 'p256', DATA, { hash: 'SHA-256' }, await session.slotInfo(0x9a)), { instanceOf: TouchTimeoutError });
      t.regex(error.message, /was not touched in time/);
      t.is(shown, 1);
      t.is(cleared, 1);
    }));

  test('a touch that comes: the operation waits for it and completes', (t) =>
    withDevice({ touch: 'manual', touchTimeoutSeconds: 10 }, async (device) => {
      let notices = 0;
      // The finger comes when the notice asks for it, however long the machine took to get there.
      const session = await device.open(credentials(), { onTouchWait: () => (notices++, void device.touch(), { clear: () => undefined }) });
      await session.generateKey(0x9a, 'p256', { touchPolicy: 'always', pinPolicy: 'never' });
      const slot = await session.slotInfo(0x9a);
      const signature = await session.sign(0x9a, 'p256', DATA, { hash: 'SHA-256' }, slot);
      t.true((await opensslVerifySignature({ algorithm: 'p256', publicKeyPem: toPem('PUBLIC KEY', slot!.publicKey!), data: DATA, signature })).ok);
      t.is(notices, 1, 'the notice appeared once the card had been silent');
    }));

  test('PIN policy "always": every signature verifies the PIN again; "never" needs none', (t) =>
    withDevice({}, async (device) => {
      let asked = 0;
      const session = await device.open(credentials({ pin: async () => (asked++, Secret.fromString(PIN)) }));
      await session.generateKey(0x9c, 'p256', { pinPolicy: 'always' });
      await session.generateKey(0x9e, 'p256');
      const slot9c = await session.slotInfo(0x9c);
      await session.sign(0x9c, 'p256', DATA, { hash: 'SHA-256' }, slot9c);
      await session.sign(0x9c, 'p256', DATA, { hash: 'SHA-256' }, slot9c);
      t.is(asked, 1, 'the PIN is asked for once; the session re-verifies it for the second signature');
      const never = await device.open(credentials({ pin: async () => t.fail('no PIN for 9e') as never }));
      await never.sign(0x9e, 'p256', DATA, { hash: 'SHA-256' }, await never.slotInfo(0x9e));
      t.pass();
    }));

  test('ECDH in slot 9d gives the same secret as the peer computes', (t) =>
    withDevice({}, async (device) => {
      const { createECDH, createPublicKey } = await import('node:crypto');
      const session = await device.open(credentials());
      const spki = await session.generateKey(0x9d, 'p256');
      const peer = createECDH('prime256v1');
      peer.generateKeys();
      const secret = await session.ecdh(0x9d, 'p256', peer.getPublicKey(), await session.slotInfo(0x9d));
      const cardPoint = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
      const expected = peer.computeSecret(Buffer.concat([Buffer.of(4), Buffer.from(cardPoint.x!, 'base64url'), Buffer.from(cardPoint.y!, 'base64url')]));
      t.deepEqual(Buffer.from(secret), expected);
    }));

  test('an imported key signs like a generated one, but cannot be attested', (t) =>
    withDevice({}, async (device) => {
      const { generateKeyPairSync } = await import('node:crypto');
      const session = await device.open(credentials());
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      await session.importKey(0x82, privateKey, { pinPolicy: 'never' });
      const slot = await session.slotInfo(0x82);
      t.like(slot, { algorithm: 'p384', origin: 'imported', pinPolicy: 'never' });
      t.deepEqual(Buffer.from(slot!.publicKey!), publicKey.export({ type: 'spki', format: 'der' }));
      const signature = await session.sign(0x82, 'p384', DATA, { hash: 'SHA-384' }, slot);
      t.true((await opensslVerifySignature({ algorithm: 'p384', publicKeyPem: toPem('PUBLIC KEY', slot!.publicKey!), data: DATA, signature })).ok);
      await t.throwsAsync(session.attest(0x82), { instanceOf: UsageError, message: /rejected the data/ });
      // Keys the card cannot hold are refused before anything is sent, saying why.
      await t.throwsAsync(session.importKey(0x83, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey), {
        instanceOf: UsageError,
        message: /RSA keys of 1024 bits cannot be imported/,
      });
      await t.throwsAsync(session.importKey(0x83, generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey), {
        instanceOf: UsageError,
        message: /this ec \(secp256k1\) key cannot be imported/,
      });
      t.is(await session.slotInfo(0x83), undefined, 'the slot stays empty');
    }));

  test('errors carry status words as typed errors, never raw failures', (t) =>
    withDevice({}, async (device) => {
      const session = await device.open(credentials());
      const missing = await t.throwsAsync(session.sign(0x9a, 'p256', DATA, { hash: 'SHA-256' }), { instanceOf: KeywardError });
      t.is(missing.code, 'CARD_REJECTED_DATA');
      await session.generateKey(0x9a, 'p384');
      const mismatch = await t.throwsAsync(session.sign(0x9a, 'p256', DATA, { hash: 'SHA-256' }), { instanceOf: KeywardError });
      t.is(mismatch.code, 'PIV_UNSUPPORTED', 'P1 algorithm not matching the slot key is refused (6A86)');
    }));
}
