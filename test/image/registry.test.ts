/**
 * Image signatures in a real registry (Debian's docker-registry, storage in a temporary directory,
 * 127.0.0.1): images the test builds are pushed with skopeo, Keyward signs them with a key on a
 * virtual YubiKey (one touch), and containers/image, through a skopeo that checks `sigstoreSigned`
 * policies, accepts them, and refuses them when the signature is missing, made by another key, or
 * names another digest; cosign verifies them too. Keyward verifies what skopeo signed. A tag that
 * moves while the device signs, and a wrong PIN, leave the registry as it was; two signers at once
 * both keep theirs. cosign verify-blob accepts Keyward's Sigstore bundles.
 */
import test from 'ava';
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeywardError } from '../../src/errors.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { MemoryKeyHandle } from '../../src/keystore/memory-key.js';
import type { KeyHandle } from '../../src/keystore/backend.js';
import { makeBundle } from '../../src/image/bundle.js';
import { readVerifierKey, signOptions, verifierKey, type VerifierKey } from '../../src/image/keys.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient, MEDIA_TYPES } from '../../src/image/registry.js';
import { signImage } from '../../src/image/sign.js';
import { signatureTag } from '../../src/image/simple-signing.js';
import { imageSignatures, verifyImage } from '../../src/image/verify.js';
import { createTestYubiKey, type TestYubiKey } from '../../src/testing/virtual-yubikey.js';
import { recordingInteraction } from '../../src/testing/softhsm.js';
import { registryUnavailable, startRegistry, type RegistryServer } from '../../src/testing/registry.js';
import { sigstoreTools, skopeoUnavailable, systemSkopeo, type Tool } from '../../src/testing/sigstore-tools.js';
import { writeTestImage } from '../../src/testing/oci-layout.js';
import { toPem } from '../../src/x509/pem.js';
import { run } from '../harness/run.js';
import { Cleanup, tempDir } from '../harness/temp.js';

const missing = registryUnavailable() || skopeoUnavailable();

interface Rig {
  dir: string;
  registry: RegistryServer;
  client: RegistryClient;
  skopeo: Tool;
  /** A skopeo whose containers/image checks sigstoreSigned policies. */
  verifier: Tool;
  cosign: Tool;
  yubikey: TestYubiKey;
  /** The touch-always key in 9c (Keyward's release key) and another key in 9a. */
  release: KeyHandle;
  other: KeyHandle;
  releasePem: string;
  otherPem: string;
  touches: () => number;
}

let rig: Rig | undefined;
/** Made first, so that whatever the hook started is stopped even when it fails halfway. */
const cleanup = new Cleanup();

test.before(async () => {
  if (missing) return;
  const dir = tempDir(cleanup, 'keyward-image-');
  const registry = await startRegistry({ dir: join(dir, 'registry') });
  cleanup.teardown(() => registry.stop());
  const yubikey = await createTestYubiKey({ touch: { kind: 'auto', delayMs: 5 } });
  cleanup.teardown(() => yubikey.close());
  let touches = 0;
  yubikey.card.touch.onWait = () => void touches++;
  const release = await yubikey.keystore.generate(yubikey.keyUri('9c'), { algorithm: 'p256', touchPolicy: 'always', pinPolicy: 'always' });
  const other = await yubikey.keystore.generate(yubikey.keyUri('9a'), { algorithm: 'p256', touchPolicy: 'never' });
  const pem = async (key: KeyHandle) => toPem('PUBLIC KEY', await key.publicKey());
  const tools = sigstoreTools(join(dir, 'sigstore-tools'));
  rig = {
    dir,
    registry,
    client: new RegistryClient({ registry: registry.host, plainHttp: true }),
    skopeo: systemSkopeo(),
    verifier: tools.skopeo,
    cosign: tools.cosign,
    yubikey,
    release,
    other,
    releasePem: await pem(release),
    otherPem: await pem(other),
    touches: () => touches,
  };
});

test.after.always(async () => {
  await cleanup.run();
});

/** Builds an image and pushes it to `repository:tag`; returns its reference and digest. */
async function push(r: Rig, repository: string, tag: string, content: string, platforms?: string[]): Promise<{ ref: string; digest: string }> {
  const layout = join(r.dir, 'layouts', `${repository.replaceAll('/', '_')}-${tag}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(layout, { recursive: true });
  const image = writeTestImage(layout, { content, platforms });
  const policy = join(r.dir, 'accept-anything.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const result = await r.skopeo.run([
    '--policy',
    policy,
    'copy',
    ...(platforms ? ['--all'] : []),
    '--dest-tls-verify=false',
    `oci:${layout}:${image.tag}`,
    `docker://${r.registry.host}/${repository}:${tag}`,
  ]);
  if (result.code !== 0) throw new Error(`skopeo copy failed: ${result.stderr}`);
  return { ref: `${r.registry.host}/${repository}:${tag}`, digest: image.digest };
}

/** skopeo (containers/image) pulls `ref` under a policy that requires a sigstore signature by `publicKeyPem`. */
async function pullWithPolicy(r: Rig, ref: string, publicKeyPem: string, options: { all?: boolean } = {}): Promise<{ code: number; stderr: string }> {
  const work = join(r.dir, `pull-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(work, 'registries.d'), { recursive: true });
  writeFileSync(join(work, 'signer.pub.pem'), publicKeyPem);
  const repository = ref.replace(/:[^:/]+$/, '');
  writeFileSync(
    join(work, 'policy.json'),
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: { [repository]: [{ type: 'sigstoreSigned', keyPath: join(work, 'signer.pub.pem'), signedIdentity: { type: 'matchRepository' } }] },
      },
    }),
  );
  writeFileSync(join(work, 'registries.d', 'local.yaml'), `docker:\n  ${r.registry.host}:\n    use-sigstore-attachments: true\n`);
  const result = await r.verifier.run([
    '--policy',
    join(work, 'policy.json'),
    '--registries.d',
    join(work, 'registries.d'),
    'copy',
    ...(options.all ? ['--all'] : []),
    '--src-tls-verify=false',
    `docker://${ref}`,
    `dir:${join(work, 'out')}`,
  ]);
  return { code: result.code, stderr: result.stderr };
}

/** `cosign verify` of `ref` with a public key, as cosign is used without a transparency log. */
async function cosignVerify(r: Rig, ref: string, publicKeyPem: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const keyPath = join(r.dir, `cosign-${Math.random().toString(36).slice(2)}.pub.pem`);
  writeFileSync(keyPath, publicKeyPem);
  return r.cosign.run(['verify', '--key', keyPath, '--insecure-ignore-tlog=true', '--allow-http-registry', ref], { ...process.env, HOME: r.dir });
}

const keyOf = (pem: string): VerifierKey => verifierKey(createPublicKey(pem));

test.serial('Keyward signs the digest with one touch; containers/image accepts the image under a sigstoreSigned policy; Keyward verifies it', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const { ref, digest } = await push(r, 'demo/app', '1.0', 'app 1.0');
  const before = r.touches();
  const signed = await signImage({ client: r.client, reference: parseImageReference(ref), key: r.release });
  t.is(r.touches() - before, 1, 'one touch');
  t.like(signed, { digest, repository: `${r.registry.host}/demo/app`, signatureTag: signatureTag(digest), signatures: 1, alreadySigned: false, writes: 1 });
  t.is(signed.mediaType, MEDIA_TYPES.ociManifest);

  const accepted = await pullWithPolicy(r, ref, r.releasePem);
  t.is(accepted.code, 0, `${r.verifier.origin} skopeo ${r.verifier.version} accepts: ${accepted.stderr}`);
  const verified = await verifyImage(r.client, parseImageReference(ref), [keyOf(r.releasePem)]);
  t.is(verified.verified.length, 1);
  t.is(verified.verified[0]!.signedDigest, digest);
  const byCosign = await cosignVerify(r, ref, r.releasePem);
  t.is(byCosign.code, 0, `${r.cosign.origin} cosign ${r.cosign.version}: ${byCosign.stderr}`);
  t.is(JSON.parse(byCosign.stdout)[0].critical.image['docker-manifest-digest'], digest);
  t.not((await cosignVerify(r, ref, r.otherPem)).code, 0, 'cosign refuses it with another key');

  // Another signer adds a signature: both are there, each verifies, each key's policy accepts.
  const second = await signImage({ client: r.client, reference: parseImageReference(`${r.registry.host}/demo/app@${digest}`), key: r.other });
  t.is(second.signatures, 2);
  t.is((await pullWithPolicy(r, ref, r.otherPem)).code, 0);
  t.is((await pullWithPolicy(r, ref, r.releasePem)).code, 0, 'the first signature was kept');
  const listed = await imageSignatures(r.client, parseImageReference(ref), [keyOf(r.releasePem), keyOf(r.otherPem)]);
  t.deepEqual(
    listed.signatures.map((s) => s.verifiedBy),
    [keyOf(r.releasePem).id, keyOf(r.otherPem).id],
  );
  t.deepEqual(
    listed.signatures.map((s) => s.keyHint),
    [keyOf(r.releasePem).id, keyOf(r.otherPem).id],
  );

  // The same key again: nothing to add, and the device is not asked.
  const again = await signImage({ client: r.client, reference: parseImageReference(ref), key: r.release });
  t.true(again.alreadySigned);
  t.is(r.touches() - before, 1, 'no second touch');
  t.is(again.signatures, 2);
});

test.serial('containers/image and Keyward refuse an image whose signature is missing, by another key, or names another digest', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const release = [keyOf(r.releasePem)];

  const unsigned = await push(r, 'demo/refused', 'unsigned', 'never signed');
  const noSignature = await pullWithPolicy(r, unsigned.ref, r.releasePem);
  t.is(noSignature.code, 1);
  t.regex(noSignature.stderr, /A signature was required, but no signature exists/);
  const e1 = await t.throwsAsync<KeywardError>(verifyImage(r.client, parseImageReference(unsigned.ref), release));
  t.is(e1?.code, 'IMAGE_UNSIGNED');

  const byOther = await push(r, 'demo/refused', 'by-other', 'signed by another key');
  await signImage({ client: r.client, reference: parseImageReference(byOther.ref), key: r.other });
  const otherKey = await pullWithPolicy(r, byOther.ref, r.releasePem);
  t.is(otherKey.code, 1);
  t.regex(otherKey.stderr, /cryptographic signature verification failed/);
  const e2 = await t.throwsAsync<KeywardError>(verifyImage(r.client, parseImageReference(byOther.ref), release));
  t.is(e2?.code, 'IMAGE_SIGNATURE_INVALID');
  t.regex(e2!.message, /does not verify with the key given/);

  // A valid signature of one image, stored as the signature of another: it names the wrong digest.
  const signedOne = await push(r, 'demo/refused', 'signed', 'the image that was signed');
  await signImage({ client: r.client, reference: parseImageReference(signedOne.ref), key: r.release });
  const moved = await push(r, 'demo/refused', 'borrowed', 'an image that borrows a signature');
  const sig = (await r.client.manifest('demo/refused', signatureTag(signedOne.digest)))!;
  await r.client.putManifest('demo/refused', signatureTag(moved.digest), sig.bytes, sig.mediaType);
  const otherDigest = await pullWithPolicy(r, moved.ref, r.releasePem);
  t.is(otherDigest.code, 1);
  t.regex(otherDigest.stderr, /Signature for digest .* does not match/);
  const e3 = await t.throwsAsync<KeywardError>(verifyImage(r.client, parseImageReference(moved.ref), release));
  t.is(e3?.code, 'IMAGE_SIGNATURE_INVALID');
  t.true(e3!.message.includes(`it signs ${signedOne.digest}, not ${moved.digest}`));
});

test.serial("Keyward verifies a signature skopeo made with its own sigstore key, and refuses it with Keyward's key", async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const { ref, digest } = await push(r, 'demo/by-skopeo', 'source', 'signed by skopeo');
  const work = join(r.dir, 'skopeo-signer');
  mkdirSync(join(work, 'registries.d'), { recursive: true });
  writeFileSync(join(work, 'passphrase'), 'a passphrase for the test\n', { mode: 0o600 });
  const generated = await r.verifier.run(['generate-sigstore-key', '--output-prefix', join(work, 'skopeo-key'), '--passphrase-file', join(work, 'passphrase')]);
  t.is(generated.code, 0, generated.stderr);
  writeFileSync(join(work, 'registries.d', 'local.yaml'), `docker:\n  ${r.registry.host}:\n    use-sigstore-attachments: true\n`);
  writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const target = `${r.registry.host}/demo/by-skopeo:signed`;
  const copied = await r.verifier.run([
    '--policy',
    join(work, 'policy.json'),
    '--registries.d',
    join(work, 'registries.d'),
    'copy',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    '--sign-by-sigstore-private-key',
    join(work, 'skopeo-key.private'),
    '--sign-passphrase-file',
    join(work, 'passphrase'),
    `docker://${ref}`,
    `docker://${target}`,
  ]);
  t.is(copied.code, 0, copied.stderr);
  const skopeoKey = keyOf(readFileSync(join(work, 'skopeo-key.pub'), 'utf8'));
  const verified = await verifyImage(r.client, parseImageReference(target), [skopeoKey]);
  t.is(verified.digest, digest, 'skopeo copied the manifest as it was');
  t.is(verified.verified[0]!.identity, target, 'skopeo names repository:tag');
  t.regex(verified.verified[0]!.creator ?? '', /containers\/image|skopeo/i);
  t.true(Number.isSafeInteger(verified.verified[0]!.timestamp));
  const e = await t.throwsAsync<KeywardError>(verifyImage(r.client, parseImageReference(target), [keyOf(r.releasePem)]));
  t.is(e?.code, 'IMAGE_SIGNATURE_INVALID');
});

test.serial('a multi-platform index is signed as the index; with recursive its platforms too, which containers/image also checks', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const { ref, digest } = await push(r, 'demo/multi', '1.0', 'multi', ['linux/amd64', 'linux/arm64']);
  const signed = await signImage({ client: r.client, reference: parseImageReference(ref), key: r.release });
  t.is(signed.mediaType, MEDIA_TYPES.ociIndex);
  t.is(signed.digest, digest);
  t.deepEqual(signed.platforms, []);
  // containers/image checks the index's signature and then each platform manifest's it copies.
  const indexOnly = await pullWithPolicy(r, ref, r.releasePem, { all: true });
  t.regex(indexOnly.stderr, /copying image 1\/2 from manifest list: Source image rejected: A signature was required, but no signature exists/);
  const before = r.touches();
  const recursive = await signImage({ client: r.client, reference: parseImageReference(ref), key: r.release, recursive: true });
  t.true(recursive.alreadySigned, 'the index was signed before');
  t.deepEqual(
    recursive.platforms.map((p) => [p.platform, p.alreadySigned, p.signatures]),
    [
      ['linux/amd64', false, 1],
      ['linux/arm64', false, 1],
    ],
  );
  t.is(r.touches() - before, 2, 'one touch per platform manifest');
  const all = await pullWithPolicy(r, ref, r.releasePem, { all: true });
  t.is(all.code, 0, all.stderr);
  const one = await pullWithPolicy(r, ref, r.releasePem);
  t.is(one.code, 0, one.stderr);
  for (const p of recursive.platforms) {
    const v = await verifyImage(r.client, parseImageReference(`${r.registry.host}/demo/multi@${p.digest}`), [keyOf(r.releasePem)]);
    t.is(v.verified.length, 1);
  }
});

test.serial('a tag that moves while the device signs gets no signature, for either digest', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const first = await push(r, 'demo/moving', 'latest', 'the image resolved');
  let second: { digest: string } | undefined;
  // The tag moves while the card waits for the touch.
  const moving: KeyHandle = {
    ...r.release,
    info: r.release.info,
    publicKey: () => r.release.publicKey(),
    sign: async (data, options) => {
      second = await push(r, 'demo/moving', 'latest', 'the image pushed meanwhile');
      return r.release.sign(data, options);
    },
  };
  const error = await t.throwsAsync<KeywardError>(signImage({ client: r.client, reference: parseImageReference(first.ref), key: moving }));
  t.is(error?.code, 'IMAGE_TAG_MOVED');
  t.true(error!.message.includes(`it named ${first.digest} and now names ${second!.digest}; nothing was written`));
  t.is(await r.client.manifest('demo/moving', signatureTag(first.digest)), undefined);
  t.is(await r.client.manifest('demo/moving', signatureTag(second!.digest)), undefined);
});

test.serial('a wrong PIN while signing writes nothing, and spends one try', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const { ref, digest } = await push(r, 'demo/pin', '1.0', 'wrong pin');
  const wrong = new Keystore({
    attachedCards: [{ reader: 'wrong PIN', card: r.yubikey.card }],
    env: { KEYWARD_PIN: '654321' },
    interaction: recordingInteraction([]),
  });
  t.teardown(() => wrong.close());
  const error = await t.throwsAsync<KeywardError>(
    signImage({ client: r.client, reference: parseImageReference(ref), key: await wrong.open(r.yubikey.keyUri('9c')) }),
  );
  t.is(error?.code, 'PIN_INCORRECT');
  t.is(await r.client.manifest('demo/pin', signatureTag(digest)), undefined, 'no .sig');
  t.regex(error!.message, /2 tries left|tries left: 2/);
  // The right PIN resets the counter (and the image can be signed).
  await signImage({ client: r.client, reference: parseImageReference(ref), key: r.release });
});

test.serial('two signers at once: both signatures are kept', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const { ref, digest } = await push(r, 'demo/race', '1.0', 'two signers');
  // Keys of every type Keyward signs with, held in memory so that all sign at the same moment.
  const handles = (['p384', 'rsa2048', 'ed25519'] as const).map((algorithm) => new MemoryKeyHandle(algorithm, `signer ${algorithm}`));
  const results = await Promise.all([
    signImage({ client: r.client, reference: parseImageReference(ref), key: r.other }),
    ...handles.map((key) =>
      signImage({ client: new RegistryClient({ registry: r.registry.host, plainHttp: true }), reference: parseImageReference(ref), key }),
    ),
  ]);
  t.log(`writes of the .sig manifest per signer: ${results.map((x) => x.writes).join(', ')}`);
  const keys = [keyOf(r.otherPem)];
  for (const handle of handles) keys.push(verifierKey(createPublicKey({ key: Buffer.from(await handle.publicKey()), format: 'der', type: 'spki' })));
  const listed = await imageSignatures(r.client, parseImageReference(`${r.registry.host}/demo/race@${digest}`), keys);
  t.is(listed.signatures.length, 4);
  t.deepEqual(listed.signatures.map((s) => s.verifiedBy).sort(), keys.map((k) => k.id).sort());
});

test.serial('a certificate chain as the verification key: its path to its root is checked, then its leaf key verifies', async (t) => {
  if (!rig) return t.pass(`skipped: ${missing}`);
  const r = rig;
  const work = join(r.dir, 'chain');
  mkdirSync(work);
  const ssl = async (args: string[]) => {
    const result = await run('openssl', args, { cwd: work });
    if (result.code !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const name of ['root', 'stranger']) {
    await ssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name} CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
  }
  await ssl(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=release signer']);
  await ssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2']);
  const pem = (name: string) => readFileSync(join(work, `${name}.pem`), 'utf8');
  // The leaf's key signs as a Keystore key would (here a key file, which is all a test needs).
  const leafKey = createPrivateKey(readFileSync(join(work, 'leaf.key')));
  const key: KeyHandle = {
    info: { ...r.other.info, uri: 'file:leaf.key', algorithm: 'p256' },
    publicKey: async () => new Uint8Array(createPublicKey(leafKey).export({ type: 'spki', format: 'der' })),
    sign: async (data) => new Uint8Array(sign('sha256', data, leafKey)),
    certificate: async () => undefined,
    setCertificate: async () => undefined,
    attest: () => Promise.reject(new Error('no attestation')),
  };
  const { ref } = await push(r, 'demo/chain', '1.0', 'signed by a certified key');
  await signImage({ client: r.client, reference: parseImageReference(ref), key });
  const verified = await verifyImage(r.client, parseImageReference(ref), [await readVerifierKey(Buffer.from(pem('leaf') + pem('root')))]);
  t.is(verified.verified[0]!.subject, 'CN=release signer');
  const stranger = await t.throwsAsync<KeywardError>(readVerifierKey(Buffer.from(pem('leaf') + pem('stranger'))));
  t.is(stranger?.code, 'KEY_CHAIN_INVALID');
  t.regex(stranger!.message, /the certificate chain does not verify: .*root CA/);
});

test.serial(
  'cosign verify-blob accepts a bundle touch-signed on the YubiKey, with no transparency log and an empty trusted root; a changed byte fails',
  async (t) => {
    if (!rig) return t.pass(`skipped: ${missing}`);
    const r = rig;
    const work = join(r.dir, 'cosign-blob');
    mkdirSync(work);
    const data = Buffer.from('a release, signed into a Sigstore bundle\n');
    const bundle = makeBundle(data, await r.release.sign(data, signOptions(r.release.info.algorithm)), keyOf(r.releasePem).id);
    writeFileSync(join(work, 'release.tar.gz'), data);
    writeFileSync(join(work, 'release.sigstore.json'), JSON.stringify(bundle));
    writeFileSync(join(work, 'release.pub.pem'), r.releasePem);
    // No Sigstore instance is trusted: the public key is all there is to check against.
    writeFileSync(
      join(work, 'trusted_root.json'),
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      }),
    );
    const verifyBlob = (file: string) =>
      r.cosign.run(
        [
          'verify-blob',
          '--key',
          join(work, 'release.pub.pem'),
          '--bundle',
          join(work, 'release.sigstore.json'),
          '--new-bundle-format',
          '--trusted-root',
          join(work, 'trusted_root.json'),
          '--insecure-ignore-tlog=true',
          file,
        ],
        { ...process.env, HOME: work },
      );
    const verified = await verifyBlob(join(work, 'release.tar.gz'));
    t.is(verified.code, 0, verified.stderr);
    t.regex(verified.stderr, /Verified OK/);
    const changed = Buffer.from(data);
    changed[0] ^= 1;
    writeFileSync(join(work, 'changed.tar.gz'), changed);
    const refused = await verifyBlob(join(work, 'changed.tar.gz'));
    t.is(refused.code, 1);
    t.regex(refused.stderr, /invalid signature|failed to verify/);
  },
);
