/**
 * The attestation verifier against what real YubiKeys sent (fixtures/yubico/README.md) and Yubico's
 * built-in PKI: a 5.7.4 card through the two intermediate tiers, a 5.4.3 card under the old root.
 */
import test from 'ava';
import { X509Certificate, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildCertificatePath } from '../../../src/x509/path.js';
import { trustFromBundle, verifyAttestation, type AttestationTrust } from '../../../src/hsm/piv/attestation.js';
import { YUBICO_ATTESTATION_ROOT_1_PEM, yubicoAttestationTrust } from '../../../src/hsm/piv/yubico-roots.js';
import { fromPemOrDer, pemBlocks, toPem } from '../../../src/x509/pem.js';
import * as x509 from '../../../src/x509/peculiar.js';

const fixture = (name: string) => fromPemOrDer(readFileSync(new URL(`fixtures/yubico/${name}`, import.meta.url)), 'CERTIFICATE');
const card = (firmware: string) => ({ attestation: fixture(`yubikey-${firmware}-slot-9a.pem`), deviceCertificate: fixture(`yubikey-${firmware}-f9.pem`) });
const subject = (der: Uint8Array) => new X509Certificate(Buffer.from(der)).subject;

/** Yubico's trust without the intermediate named `cn`. */
function yubicoWithout(cn: string): AttestationTrust {
  const trust = yubicoAttestationTrust();
  return { ...trust, intermediates: trust.intermediates.filter((c) => subject(c) !== `CN=${cn}`) };
}

test("a YubiKey 5.7.4 attestation verifies through Yubico's two built-in intermediates to Attestation Root 1", (t) => {
  const verified = verifyAttestation({ ...card('5.7.4'), trust: yubicoAttestationTrust() });
  t.deepEqual(verified.path, [
    'CN=YubiKey PIV Attestation 9a',
    'CN=YubiKey PIV Attestation',
    'CN=Yubico PIV Attestation B 1',
    'CN=Yubico Attestation Intermediate B 1',
    'CN=Yubico Attestation Root 1',
  ]);
  t.deepEqual(verified.claims, { firmware: '5.7.4', serial: 33064031, pinPolicy: 'once', touchPolicy: 'cached', formFactor: 'USB-C keychain' });
  t.is(verified.chain.length, 5);
});

test('a YubiKey 5.4.3 attestation still verifies under the old root, Yubico PIV Root CA Serial 263751', (t) => {
  const verified = verifyAttestation({ ...card('5.4.3'), trust: yubicoAttestationTrust() });
  t.deepEqual(verified.path, ['CN=YubiKey PIV Attestation 9a', 'CN=Yubico PIV Attestation', 'CN=Yubico PIV Root CA Serial 263751']);
  t.like(verified.claims, { firmware: '5.4.3', serial: 19661687 });
});

test("with the new root but not the intermediates (the old verifier's view), a 5.7.4 chain is refused naming the missing tier", (t) => {
  const rootsOnly = { ...yubicoAttestationTrust(), intermediates: [] };
  const error = t.throws(() => verifyAttestation({ ...card('5.7.4'), trust: rootsOnly }), { code: 'ATTESTATION_UNTRUSTED' } as never);
  t.regex(error!.message, /^no certificate in the bundle issued 'CN=YubiKey PIV Attestation'; add the intermediate 'CN=Yubico PIV Attestation B 1'/);

  const upperMissing = t.throws(() => verifyAttestation({ ...card('5.7.4'), trust: yubicoWithout('Yubico Attestation Intermediate B 1') }), {
    code: 'ATTESTATION_UNTRUSTED',
  } as never);
  t.regex(
    upperMissing!.message,
    /^no certificate in the bundle issued 'CN=Yubico PIV Attestation B 1'; add the intermediate 'CN=Yubico Attestation Intermediate B 1'/,
  );
  t.deepEqual((upperMissing as unknown as { details: unknown }).details, {
    certificate: 'CN=Yubico PIV Attestation B 1',
    issuer: 'CN=Yubico Attestation Intermediate B 1',
  });
});

test("a foreign certificate named like Yubico's PIV intermediate does not get a 5.7.4 chain through", async (t) => {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const impostor = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=Yubico PIV Attestation B 1',
      notBefore: new Date(Date.UTC(2024, 0, 1)),
      notAfter: new Date(Date.UTC(2099, 0, 1)),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
    },
    webcrypto,
  );
  const trust = yubicoWithout('Yubico PIV Attestation B 1');
  trust.intermediates.push(new Uint8Array(impostor.rawData));
  const error = t.throws(() => verifyAttestation({ ...card('5.7.4'), trust }), { code: 'ATTESTATION_UNTRUSTED' } as never);
  t.regex(
    error!.message,
    /^no certificate in the bundle issued 'CN=YubiKey PIV Attestation': the 'CN=Yubico PIV Attestation B 1' there has that name but another key/,
  );
});

test("a slot attestation is accepted only from the card's own F9 key", (t) => {
  const error = t.throws(
    () => verifyAttestation({ attestation: card('5.7.4').attestation, deviceCertificate: card('5.4.3').deviceCertificate, trust: yubicoAttestationTrust() }),
    { code: 'ATTESTATION_INVALID' } as never,
  );
  t.regex(error!.message, /not signed by this device's attestation key/);
});

test('every built-in Yubico intermediate chains to Attestation Root 1, and the A branch as well as the B', (t) => {
  const trust = yubicoAttestationTrust();
  const load = (der: Uint8Array) => new X509Certificate(Buffer.from(der));
  const root1 = load(fromPemOrDer(Buffer.from(YUBICO_ATTESTATION_ROOT_1_PEM), 'CERTIFICATE'));
  const ends = trust.intermediates.map((der) => {
    const built = buildCertificatePath({ leaf: load(der), intermediates: trust.intermediates.map(load), roots: trust.roots.map(load) });
    return built.ok ? built.path.map((c) => c.subject).join(' → ') : built.failure.message;
  });
  t.deepEqual(ends, [
    'CN=Yubico Attestation Intermediate A 1 → CN=Yubico Attestation Root 1',
    'CN=Yubico Attestation Intermediate B 1 → CN=Yubico Attestation Root 1',
    'CN=Yubico PIV Attestation A 1 → CN=Yubico Attestation Intermediate A 1 → CN=Yubico Attestation Root 1',
    'CN=Yubico PIV Attestation B 1 → CN=Yubico Attestation Intermediate B 1 → CN=Yubico Attestation Root 1',
  ]);
  t.true(trust.roots.some((r) => load(r).raw.equals(root1.raw)));
});

test('a bundle file sorts itself: self-signed certificates become roots, the others intermediates', (t) => {
  const { roots, intermediates } = yubicoAttestationTrust();
  const bundle = pemBlocks([...intermediates, ...roots].map((c) => toPem('CERTIFICATE', c)).join(''), 'CERTIFICATE');
  const sorted = trustFromBundle(bundle);
  t.deepEqual(sorted.roots.map(subject), ['CN=Yubico PIV Root CA Serial 263751', 'CN=Yubico Attestation Root 1']);
  t.is(sorted.intermediates.length, 4);
  t.notThrows(() => verifyAttestation({ ...card('5.7.4'), trust: sorted }));
});
