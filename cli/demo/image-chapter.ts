/**
 * Demo, chapter: container images and files signed where verifiers look. A release file signed into
 * a Sigstore bundle by a key on a (virtual) YubiKey; then, where Debian's docker-registry and skopeo
 * are installed, an image built on the spot, pushed into a throw-away registry on 127.0.0.1,
 * touch-signed in cosign's format and verified (and refused with another key, and after the tag
 * moves). Without them it says how to enable that part.
 */
import { createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardError } from '../../src/errors.js';
import { makeBundle, verifyBundle } from '../../src/image/bundle.js';
import { keyId, signOptions, verifierKey } from '../../src/image/keys.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/image/registry.js';
import { signImage } from '../../src/image/sign.js';
import { verifyImage } from '../../src/image/verify.js';
import { MemoryKeyHandle } from '../../src/keystore/memory-key.js';
import { Secret } from '../../src/secret.js';
import { writeTestImage } from '../../src/testing/oci-layout.js';
import { registryUnavailable, startRegistry } from '../../src/testing/registry.js';
import { skopeoUnavailable, systemSkopeo } from '../../src/testing/sigstore-tools.js';
import type { Story } from './story.js';
import { touchingCard } from './touching-card.js';

const TOUCH_AFTER_MS = 800;
const RELEASE = Buffer.from('keyward-demo 1.0: a file signed into a Sigstore bundle\n');

export async function imageChapter(story: Story, userPin: Secret): Promise<void> {
  story.chapter(
    'Signing images and files where verifiers look',
    'A release key on a YubiKey that touches itself after 0.8 s; cosign-format image signatures in the registry, Sigstore bundles for files.',
  );
  const { card, keystore } = await touchingCard(story, userPin, TOUCH_AFTER_MS);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-demo-image-'));
  try {
    const key = await keystore.generate(`yubikey:serial=${card.serial};slot=9c`, { algorithm: 'p256', pinPolicy: 'never', touchPolicy: 'always' });
    const spki = await key.publicKey();
    const release = verifierKey(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }));

    const bundle = Buffer.from(JSON.stringify(makeBundle(RELEASE, await key.sign(RELEASE, signOptions(key.info.algorithm)), keyId(spki))));
    const checked = verifyBundle(RELEASE, bundle, release);
    const changed = Buffer.from(RELEASE);
    changed[0] ^= 1;
    story.step(
      checked.keyId === release.id && (await refusalOf(async () => verifyBundle(changed, bundle, release))) !== '',
      'a release file touch-signed into a Sigstore bundle (v0.3, public key, no transparency log): verified, and refused once a byte changes',
      `sha256 ${checked.sha256}`,
    );

    const unavailable = registryUnavailable() || skopeoUnavailable();
    if (unavailable) {
      story.note(
        `Images: not run here (${unavailable}). With Debian's docker-registry and skopeo installed, the demo signs an image in a throw-away registry.`,
      );
      return;
    }
    const registry = await startRegistry({ dir: join(dir, 'registry') });
    try {
      const push = async (content: string) => {
        const layout = join(dir, `layout-${content.length}-${Math.random().toString(36).slice(2)}`);
        mkdirSync(layout);
        const image = writeTestImage(layout, { content });
        writeFileSync(join(dir, 'accept.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
        const pushed = await systemSkopeo().run([
          '--policy',
          join(dir, 'accept.json'),
          'copy',
          '--dest-tls-verify=false',
          `oci:${layout}:${image.tag}`,
          `docker://${ref}`,
        ]);
        if (pushed.code !== 0) throw new Error(`skopeo copy failed: ${pushed.stderr}`);
        return image.digest;
      };
      const ref = `${registry.host}/demo/app:1.0`;
      const digest = await push('keyward demo image');
      story.step(true, `an image built here (one layer, a config, an OCI manifest) pushed with skopeo to a throw-away docker-registry: ${ref}`, digest);
      const client = new RegistryClient({ registry: registry.host, plainHttp: true });
      const signed = await signImage({ client, reference: parseImageReference(ref), key });
      story.step(
        signed.digest === digest,
        `the digest (never the tag) touch-signed and stored where cosign, podman and skopeo look: ${signed.signatureTag}`,
        `payload: {"critical":{"identity":{"docker-reference":"${signed.repository}"},"image":{"docker-manifest-digest":"${digest}"},…}}`,
      );
      const verified = await verifyImage(client, parseImageReference(ref), [release]);
      const other = verifierKey(createPublicKey({ key: Buffer.from(await new MemoryKeyHandle('p256').publicKey()), format: 'der', type: 'spki' }));
      const foreign = await refusalOf(() => verifyImage(client, parseImageReference(ref), [other]));
      story.step(verified.verified.length === 1 && foreign !== '', `verified with the release key; refused with another key`, foreign);
      await push('keyward demo image, pushed again');
      const moved = await refusalOf(() => verifyImage(client, parseImageReference(ref), [release]));
      story.step(moved !== '', 'the tag moved to a new, unsigned image: refused, since the signature names the old digest', moved);
    } finally {
      await registry.stop();
    }
  } finally {
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The message of the Keyward error `check` fails with, or '' when it succeeds. */
async function refusalOf(check: () => Promise<unknown>): Promise<string> {
  try {
    await check();
    return '';
  } catch (error) {
    if (error instanceof KeywardError) return error.message;
    throw error;
  }
}
