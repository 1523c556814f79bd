/** Demo, chapter 1: keys generated in an HSM, used to sign, checked by OpenSSL. */
import { ALGORITHMS, KEY_ALGORITHMS } from '../../src/crypto/algorithms.js';
import { createSelfSignedCertificate } from '../../src/certificates/self-signed.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { toPem } from '../../src/x509/pem.js';
import type { Secret } from '../../src/secret.js';
import { opensslVerifyCertificate, opensslVerifySignature, opensslVersion } from '../../src/testing/openssl.js';
import type { Story } from './story.js';

const MESSAGE = Buffer.from('Keyward demo: this message was signed inside a hardware token.\n');

export async function keystoreChapter(story: Story, keystore: Keystore, pins: { so: Secret; user: Secret }, storeDir: string): Promise<void> {
  story.chapter('A throw-away HSM', `SoftHSM2 in ${storeDir}; its PINs are random and live only in this process's memory.`);
  const backend = await keystore.administration('pkcs11');
  const token = backend.initToken('pkcs11:', { label: 'keyward-demo', soPin: pins.so, userPin: pins.user });
  story.step(token.initialized, `token "${token.label}" initialised`, token.uri);

  const verifier = (await opensslVersion()) ?? 'OpenSSL (not installed!)';
  story.chapter('Keys made inside the token, signatures checked by an outside verifier', `verifier: ${verifier}`);
  for (const algorithm of KEY_ALGORITHMS) {
    const info = ALGORITHMS[algorithm];
    const started = performance.now();
    const handle = await keystore.generate(`pkcs11:token=keyward-demo;object=demo-${algorithm}`, { algorithm });
    const generatedMs = Math.round(performance.now() - started);
    const signature = await handle.sign(MESSAGE);
    const publicKeyPem = toPem('PUBLIC KEY', await handle.publicKey());
    const verified = await opensslVerifySignature({ algorithm, publicKeyPem, data: MESSAGE, signature });
    const protection = handle.info.nonExtractable ? 'sensitive, never extractable' : 'EXTRACTABLE (unexpected)';
    story.step(
      verified.ok && handle.info.nonExtractable === true,
      `${info.title.padEnd(11)} generated in ${String(generatedMs).padStart(4)} ms (${protection}); ${signature.length}-byte signature ${verified.ok ? 'accepted' : 'REJECTED'} by openssl`,
      verified.ok ? undefined : verified.output,
    );
  }

  story.chapter('A certificate signed inside the token', '@peculiar/x509 signs through the WebCrypto bridge without knowing the key is in hardware.');
  const handle = await keystore.open('pkcs11:token=keyward-demo;object=demo-p256');
  const certificate = await createSelfSignedCertificate(handle, { subject: 'CN=Keyward Demo Root, O=Keyward', days: 30, ca: true });
  await handle.setCertificate(new Uint8Array(certificate.rawData));
  const pem = toPem('CERTIFICATE', new Uint8Array(certificate.rawData));
  const verified = await opensslVerifyCertificate({ certificatePem: pem, trustedPem: pem, extraArgs: ['-x509_strict'] });
  story.step(verified.ok, `"${certificate.subject}" self-signed by the P-256 key, stored beside it; openssl verify -x509_strict: ${verified.output}`);
}
