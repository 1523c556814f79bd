/** The path builder on small PKIs made for each case: what it accepts, and what each refusal names. */
import test from 'ava';
import { X509Certificate, webcrypto } from 'node:crypto';
import { buildCertificatePath, type PathResult } from '../../src/x509/path.js';
import * as x509 from '../../src/x509/peculiar.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

interface Made {
  certificate: X509Certificate;
  subject: string;
  keys: webcrypto.CryptoKeyPair;
}

interface Shape {
  /** basicConstraints: a CA with this path length (null: no limit); false: not a CA. */
  ca?: number | null | false;
  usage?: x509.KeyUsageFlags;
  notAfter?: Date;
  /** Reuse a key pair (a renewed certificate). */
  keys?: webcrypto.CryptoKeyPair;
}

let serial = 1;

/** A certificate named `name`, issued by `issuer` (self-signed without one). */
async function make(name: string, issuer: Made | undefined, shape: Shape = {}): Promise<Made> {
  const keys = shape.keys ?? ((await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
  const extensions: x509.Extension[] = [];
  if (shape.ca !== false) extensions.push(new x509.BasicConstraintsExtension(true, shape.ca ?? undefined, true));
  if (shape.usage !== undefined) extensions.push(new x509.KeyUsagesExtension(shape.usage, true));
  const generated = await x509.X509CertificateGenerator.create(
    {
      serialNumber: (serial++).toString(16).padStart(2, '0'),
      subject: `CN=${name}`,
      issuer: issuer ? issuer.subject : `CN=${name}`,
      notBefore: new Date(Date.now() - DAY),
      notAfter: shape.notAfter ?? new Date(Date.now() + 365 * DAY),
      signingAlgorithm: SIGN,
      publicKey: keys.publicKey,
      signingKey: (issuer?.keys ?? keys).privateKey,
      extensions,
    },
    webcrypto,
  );
  return { certificate: new X509Certificate(Buffer.from(generated.rawData)), subject: `CN=${name}`, keys };
}

/** root → tier 1 → tier 2 → device → leaf, with Yubico's path lengths. */
async function tieredPki() {
  const root = await make('Root', undefined, { ca: 3 });
  const tier1 = await make('Intermediate A 1', root, { ca: 2 });
  const tier2 = await make('PIV Attestation A 1', tier1, { ca: 1 });
  const device = await make('Device', tier2, { ca: 0 });
  const leaf = await make('Slot 9a', device, { ca: false });
  return { root, tier1, tier2, device, leaf };
}

const names = (result: PathResult) => (result.ok ? result.path.map((c) => c.subject) : result.failure.message);

test('builds leaf → device → two tiers → root from certificates offered in any order', async (t) => {
  const { root, tier1, tier2, device, leaf } = await tieredPki();
  const result = buildCertificatePath({ leaf: leaf.certificate, intermediates: [tier1, device, tier2].map((m) => m.certificate), roots: [root.certificate] });
  t.deepEqual(names(result), ['CN=Slot 9a', 'CN=Device', 'CN=PIV Attestation A 1', 'CN=Intermediate A 1', 'CN=Root']);
});

test('a missing tier is named, and so is the certificate it should have issued', async (t) => {
  const { root, tier1, device, leaf } = await tieredPki();
  const result = buildCertificatePath({ leaf: leaf.certificate, intermediates: [device.certificate, tier1.certificate], roots: [root.certificate] });
  t.false(result.ok);
  if (result.ok) return;
  t.is(result.failure.kind, 'issuer-missing');
  t.is(
    result.failure.message,
    "no certificate in the bundle issued 'CN=Device'; add the intermediate 'CN=PIV Attestation A 1' (or that root, if you mean to trust it)",
  );
  t.like(result.failure, { certificate: 'CN=Device', issuer: 'CN=PIV Attestation A 1' });
});

test("a foreign certificate with the issuer's name is refused, naming the link; the genuine one beside it is still found", async (t) => {
  const { root, tier1, tier2, device, leaf } = await tieredPki();
  const otherRoot = await make('Root', undefined, { ca: 3 });
  const foreign = await make('PIV Attestation A 1', await make('Intermediate A 1', otherRoot, { ca: 2 }), { ca: 1 });
  const refused = buildCertificatePath({
    leaf: leaf.certificate,
    intermediates: [device, foreign, tier1].map((m) => m.certificate),
    roots: [root.certificate],
  });
  t.false(refused.ok);
  if (!refused.ok) {
    t.is(refused.failure.kind, 'issuer-foreign');
    t.regex(refused.failure.message, /^no certificate in the bundle issued 'CN=Device': the 'CN=PIV Attestation A 1' there has that name but another key/);
  }
  const found = buildCertificatePath({
    leaf: leaf.certificate,
    intermediates: [device, foreign, tier2, tier1].map((m) => m.certificate),
    roots: [root.certificate],
  });
  t.deepEqual(names(found), ['CN=Slot 9a', 'CN=Device', 'CN=PIV Attestation A 1', 'CN=Intermediate A 1', 'CN=Root']);
});

test('intermediates grant no trust: a path that reaches only an untrusted self-signed root is refused', async (t) => {
  const { root, tier1, tier2, device, leaf } = await tieredPki();
  const result = buildCertificatePath({ leaf: leaf.certificate, intermediates: [device, tier2, tier1, root].map((m) => m.certificate), roots: [] });
  t.false(result.ok);
  if (!result.ok) t.like(result.failure, { kind: 'untrusted-root', message: "the path ends at 'CN=Root', a self-signed root that is not trusted" });
});

test('an issuer that is no CA, or lacks keyCertSign, cannot issue', async (t) => {
  const root = await make('Root', undefined, { ca: 2 });
  for (const [shape, reason] of [
    [{ ca: false }, /'CN=Middle' signed 'CN=Leaf' but may not issue certificates \(basicConstraints does not say CA\)/],
    [{ ca: 1, usage: x509.KeyUsageFlags.digitalSignature }, /'CN=Middle' signed 'CN=Leaf' but may not issue certificates \(its key usage lacks keyCertSign\)/],
  ] as const) {
    const middle = await make('Middle', root, shape);
    const leaf = await make('Leaf', middle, { ca: false });
    const result = buildCertificatePath({ leaf: leaf.certificate, intermediates: [middle.certificate], roots: [root.certificate] });
    t.false(result.ok);
    if (!result.ok) {
      t.is(result.failure.kind, 'not-a-ca');
      t.regex(result.failure.message, reason);
    }
  }
});

test('path length: a CA allowing no CA below it refuses a chain with one', async (t) => {
  const root = await make('Root', undefined, { ca: 0 });
  const middle = await make('Middle', root, { ca: null });
  const leaf = await make('Leaf', middle, { ca: false });
  const result = buildCertificatePath({ leaf: leaf.certificate, intermediates: [middle.certificate], roots: [root.certificate] });
  t.false(result.ok);
  if (!result.ok) t.like(result.failure, { kind: 'path-length', message: "'CN=Root' allows 0 intermediate CA certificate(s) below it; this path has 1" });
});

test('validity: an expired intermediate is refused by name, and its renewal (same name, same key) is taken instead', async (t) => {
  const root = await make('Root', undefined, { ca: 1 });
  const expired = await make('Middle', root, { ca: 0, notAfter: new Date(Date.now() - 1000) });
  const renewed = await make('Middle', root, { ca: 0, keys: expired.keys });
  const leaf = await make('Leaf', expired, { ca: false });
  const refused = buildCertificatePath({ leaf: leaf.certificate, intermediates: [expired.certificate], roots: [root.certificate] });
  t.false(refused.ok);
  if (!refused.ok) {
    t.is(refused.failure.kind, 'expired');
    t.regex(refused.failure.message, /^'CN=Middle' is not valid on \d{4}-\d\d-\d\dT/);
  }
  const found = buildCertificatePath({ leaf: leaf.certificate, intermediates: [expired.certificate, renewed.certificate], roots: [root.certificate] });
  t.true(found.ok && found.path[1]!.raw.equals(renewed.certificate.raw));
});

test("a time outside the leaf's validity is refused before any path is looked for", async (t) => {
  const { root, tier1, tier2, device, leaf } = await tieredPki();
  const result = buildCertificatePath({
    leaf: leaf.certificate,
    intermediates: [device, tier2, tier1].map((m) => m.certificate),
    roots: [root.certificate],
    now: new Date(Date.now() + 2 * 365 * DAY),
  });
  t.false(result.ok);
  if (!result.ok) t.like(result.failure, { kind: 'expired', certificate: 'CN=Slot 9a' });
});
