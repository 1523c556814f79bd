/**
 * keyward/testing in this checkout: tokens share the process's one throw-away store, keep their
 * PINs out of the process's environment, stay on SoftHSM whatever KEYWARD_PKCS11_MODULE says, and
 * name their keys with URIs the keystore opens; a virtual YubiKey answers as `yubikey:serial=…`.
 */
import test from 'ava';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createTestToken, createTestYubiKey, processSoftHsmStore, softHsmModule, softHsmUnavailable } from '../../src/testing/index.js';
import { useProcessSoftHsm } from '../harness/softhsm.js';

const message = Buffer.from('keyward/testing');

test('SoftHSM is found here, and the harness and keyward/testing share one store', (t) => {
  t.is(softHsmUnavailable(), false);
  t.true(existsSync(softHsmModule()!));
  t.is(useProcessSoftHsm(), processSoftHsmStore());
  t.is(process.env.SOFTHSM2_CONF, processSoftHsmStore().config);
});

test('a test token: its own random PINs, out of process.env, on SoftHSM even when KEYWARD_PKCS11_MODULE names another module', async (t) => {
  const before = process.env.KEYWARD_PIN;
  const token = await createTestToken({ env: { ...process.env, KEYWARD_PKCS11_MODULE: '/nonexistent/libvendor-pkcs11.so' } });
  t.teardown(() => token.close());
  const other = await createTestToken();
  t.teardown(() => other.close());
  t.not(token.userPin, other.userPin);
  t.not(token.label, other.label);
  t.is(process.env.KEYWARD_PIN, before);
  t.regex(token.keyUri('release'), new RegExp(`^pkcs11:.*token=${token.label};object=release(\\?.*)?$`));
  const key = await token.keystore.generate(token.keyUri('release'), { algorithm: 'p256' });
  const signature = await key.sign(message);
  t.true(verify('sha256', message, createPublicKey({ key: Buffer.from(await key.publicKey()), format: 'der', type: 'spki' }), Buffer.from(signature)));
});

test('a test YubiKey: generate and sign in a slot with the factory PIN, attestation to its own root', async (t) => {
  const yubikey = await createTestYubiKey({ firmware: '5.4.3', serial: 12345678 });
  t.teardown(() => yubikey.close());
  t.is(yubikey.keyUri('9a'), 'yubikey:serial=12345678;slot=9a');
  const key = await yubikey.keystore.generate(yubikey.keyUri('9a'), { algorithm: 'p256' });
  const signature = await key.sign(message);
  t.true(verify('sha256', message, createPublicKey({ key: Buffer.from(await key.publicKey()), format: 'der', type: 'spki' }), Buffer.from(signature)));
  const attestation = await key.attest();
  t.is(String((attestation.claims as { serial: unknown }).serial), '12345678');
});
