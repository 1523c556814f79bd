/** Demo, chapter 2: enrol a (virtual) YubiKey: replace factory secrets, generate with touch, attest, sign. */
import { randomBytes } from 'node:crypto';
import { createSelfSignedCertificate } from '../../src/certificates/self-signed.js';
import { VerificationError } from '../../src/errors.js';
import { verifyAttestation } from '../../src/hsm/piv/attestation.js';
import { yubicoAttestationTrust } from '../../src/hsm/piv/yubico-roots.js';
import { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';
import { nonInteractive } from '../../src/keystore/interaction.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { toPem } from '../../src/x509/pem.js';
import { Secret } from '../../src/secret.js';
import { opensslVerifyCertificate, opensslVerifySignature } from '../../src/testing/openssl.js';
import type { Story } from './story.js';

const MESSAGE = Buffer.from('Keyward demo: signed by a YubiKey slot after a touch.\n');
const TOUCH_AFTER_MS = 800;

export async function yubikeyChapter(story: Story): Promise<void> {
  story.chapter(
    'Enrolling a YubiKey',
    'A virtual YubiKey 5 (firmware 5.7.4, attesting through two intermediate CAs like the YubiKeys sold today) in this process: the same APDUs a real one answers, and it touches itself after 0.8 s.',
  );
  const card = await VirtualYubiKey.create({ firmware: '5.7.4' }, { touch: { kind: 'auto', delayMs: TOUCH_AFTER_MS } });
  const pin = Secret.fromString(randomBytes(3).toString('hex'));
  const managementKey = randomBytes(24);
  // The keystore reads the management key from here; it learns the new one once it is set.
  const env: NodeJS.ProcessEnv = {};
  const keystore = new Keystore({
    attachedCards: [{ reader: 'Keyward virtual YubiKey (in-process)', card }],
    attestationRoots: [card.attestationRoot],
    attestationIntermediates: card.attestationIntermediates,
    env,
    interaction: {
      ...nonInteractive,
      warn: () => undefined,
      askSecret: async () => Secret.fromBytes(pin.revealBytes()),
      notice: (message) => {
        story.note(`  ${message} (waiting for the touch)`);
        return { clear: (outcome) => void (outcome && story.note(`  …${outcome}.`)) };
      },
    },
  });
  try {
    const backend = await keystore.administration('yubikey');
    const session = await backend.session(`yubikey:serial=${card.serial}`);
    const defaults = await session.pinStatus();
    await session.changePin(Secret.fromString('123456'), pin);
    await session.changePuk(Secret.fromString('12345678'), Secret.fromString(randomBytes(4).toString('hex')));
    await session.setManagementKey(managementKey, 'aes192');
    env.KEYWARD_MANAGEMENT_KEY = managementKey.toString('hex');
    const after = [await session.pinStatus(), await session.pukStatus(), await session.managementKeyInfo()];
    story.step(
      defaults.isDefault === true && after.every((s) => s.isDefault === false),
      `factory PIN, PUK and management key replaced on YubiKey ${card.serial} (new ones random, in memory only)`,
    );

    const uri = `yubikey:serial=${card.serial};slot=9c`;
    const handle = await keystore.generate(uri, { algorithm: 'p256', pinPolicy: 'always', touchPolicy: 'always' });
    story.step(true, `P-256 key generated inside slot 9c: PIN always, touch always`, handle.info.uri);

    const attestation = await handle.attest();
    const claims = attestation.claims as Record<string, string> & { path: string[] };
    story.step(
      claims.pinPolicy === 'always' && claims.touchPolicy === 'always' && String(claims.serial) === String(card.serial),
      `attestation verified: made on the device, serial ${claims.serial}, firmware ${claims.firmware}, PIN ${claims.pinPolicy}, touch ${claims.touchPolicy}`,
      `chain: slot 9c → ${claims.path.slice(1).join(' → ')}`,
    );
    let rejected = false;
    try {
      verifyAttestation({ attestation: attestation.chain[0]!, deviceCertificate: attestation.chain[1]!, trust: yubicoAttestationTrust() });
    } catch (error) {
      rejected = error instanceof VerificationError;
    }
    story.step(rejected, 'a verifier that trusts only Yubico rejects it: a virtual YubiKey can never pass for a real one');

    const signature = await handle.sign(MESSAGE);
    const publicKeyPem = toPem('PUBLIC KEY', await handle.publicKey());
    const verified = await opensslVerifySignature({ algorithm: 'p256', publicKeyPem, data: MESSAGE, signature });
    story.step(verified.ok, `signed after a touch; openssl dgst -verify: ${verified.output}`);

    const certificate = await createSelfSignedCertificate(handle, { subject: 'CN=Keyward demo signer (YubiKey 9c)', days: 30 });
    await handle.setCertificate(new Uint8Array(certificate.rawData));
    const pem = toPem('CERTIFICATE', new Uint8Array(certificate.rawData));
    const certOk = await opensslVerifyCertificate({ certificatePem: pem, trustedPem: pem });
    story.step(certOk.ok, `x509 certificate signed by the YubiKey through the WebCrypto bridge, stored in slot 9c; openssl verify: ${certOk.output}`);
  } finally {
    await keystore.close();
    pin.dispose();
  }
}
