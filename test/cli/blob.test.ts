/**
 * `keyward blob sign` and `blob verify` end to end, with keys in SoftHSM: the Sigstore bundle Keyward
 * writes is verified by the sigstore libraries (sigstore-js's @sigstore/verify, with the public key
 * as trust material and no log entry or timestamp expected), and one changed byte fails both them
 * and Keyward; another key, and a file that is no bundle, fail with their own codes. (Ed25519 bundles
 * Keyward verifies; sigstore-js 5 cannot: it asks Node for SHA-256 with an Ed25519 key.)
 */
import test from 'ava';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { cliToken } from '../harness/cli-token.js';

/** What sigstore-js does in sigstore.verify, with an empty trusted root and the public key for the bundle's hint. */
function sigstoreVerify(bundle: unknown, data: Buffer, publicKeyPem: string, hint: string): void {
  const root = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const material = toTrustMaterial(root, (keyHint) => {
    if (keyHint !== hint) throw new Error(`no key for hint ${keyHint}`);
    return { publicKey: createPublicKey(publicKeyPem), validFor: () => true };
  });
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundleFromJSON(bundle), data));
}

test('a bundle Keyward signs in the token is verified by sigstore-js and by keyward blob verify; a changed byte fails both', async (t) => {
  const token = await cliToken(t);
  const dir = token.store.dir;
  const file = join(dir, 'app-1.2.tar.gz');
  const original = Buffer.from('pretend this is a release tarball\n'.repeat(100));
  writeFileSync(file, original);
  // Not Ed25519: sigstore-js hands Node a hash name with an Ed25519 key, which Node refuses (Keyward verifies those: below).
  for (const algorithm of ['p256', 'p384', 'rsa2048']) {
    const uri = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=blob-${algorithm}`, '--algorithm', algorithm])).stdout.trim();
    const pub = join(dir, `${algorithm}.pub.pem`);
    t.is((await token.keyward(['key', 'public', uri, '--out', pub])).code, 0);
    const bundlePath = join(dir, `${algorithm}.sigstore.json`);
    const signed = await token.keyward(['blob', 'sign', file, '--key', uri, '--bundle', bundlePath, '--json']);
    t.is(signed.code, 0, signed.stderr);
    const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
    t.is(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    t.deepEqual(bundle.verificationMaterial.tlogEntries, []);
    const hint = bundle.verificationMaterial.publicKey.hint;
    t.is(hint, JSON.parse(signed.stdout).keyId);

    t.notThrows(() => sigstoreVerify(bundle, original, readFileSync(pub, 'utf8'), hint), `${algorithm}: sigstore-js verifies`);
    const verified = await token.keyward(['blob', 'verify', file, '--bundle', bundlePath, '--key', pub, '--json']);
    t.is(verified.code, 0, verified.stderr);
    t.like(JSON.parse(verified.stdout), { keyId: hint, hint, tlogEntriesIgnored: 0 });

    const changed = Buffer.from(original);
    changed[100] ^= 0x01;
    t.throws(() => sigstoreVerify(bundle, changed, readFileSync(pub, 'utf8'), hint), undefined, `${algorithm}: sigstore-js refuses a changed byte`);
    const changedFile = join(dir, 'changed.tar.gz');
    writeFileSync(changedFile, changed);
    const refused = await token.keyward(['blob', 'verify', changedFile, '--bundle', bundlePath, '--key', pub]);
    t.is(refused.code, 6);
    t.regex(refused.stderr, /the file is not the one the bundle signs: its SHA-256 is [0-9a-f]{64}, the bundle's [0-9a-f]{64}/);
  }

  const ed = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=blob-ed25519`, '--algorithm', 'ed25519'])).stdout.trim();
  const edPub = join(dir, 'ed25519.pub.pem');
  t.is((await token.keyward(['key', 'public', ed, '--out', edPub])).code, 0);
  t.is((await token.keyward(['blob', 'sign', file, '--key', ed, '--bundle', join(dir, 'ed.json')])).code, 0);
  t.is((await token.keyward(['blob', 'verify', file, '--bundle', join(dir, 'ed.json'), '--key', edPub])).code, 0);

  // A signature by another key, and a file that is not a bundle.
  const otherPub = join(dir, 'rsa2048.pub.pem');
  const wrongKey = await token.keyward(['blob', 'verify', file, '--bundle', join(dir, 'p256.sigstore.json'), '--key', otherPub, '--json']);
  t.is(wrongKey.code, 6);
  t.is(JSON.parse(wrongKey.stdout).error.code, 'BUNDLE_SIGNATURE_INVALID');
  const notBundle = await token.keyward(['blob', 'verify', file, '--bundle', otherPub, '--key', otherPub]);
  t.is(notBundle.code, 2);
  t.regex(notBundle.stderr, /--bundle .*rsa2048\.pub\.pem: not a Sigstore bundle of a message signature: not a JSON object/);
});
