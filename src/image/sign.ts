/**
 * Signing an image where cosign and containers/image look: the reference is resolved to its
 * manifest digest (an index stays an index: it is signed as itself), the payload naming that digest
 * is signed in the device (a YubiKey: one touch), and the signature is added to the layers of the
 * `sha256-<hex>.sig` manifest, keeping every signature already there.
 *
 * The order makes failures harmless: the device signs before anything is written, so a wrong PIN or
 * no touch leaves the registry as it was; the tag is resolved again after signing, and a tag that
 * moved meanwhile gets nothing (the signature names the digest resolved, which the tag no longer
 * does); the `.sig` tag is written last, in one PUT. A registry has no compare-and-swap, so a
 * signer that another signer overwrote would lose its layer: after each PUT the `.sig` is read
 * back, and a layer found missing is added again, a few times, before giving up with an error.
 */
import { createPublicKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { keywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import { keyId, SIGN_OPTIONS, signatureVerifies } from './keys.js';
import { digestOf, formatReference, repositoryName, type ImageReference } from './reference.js';
import { MEDIA_TYPES, type Manifest, type RegistryClient } from './registry.js';
import {
  KEY_HINT_ANNOTATION,
  makePayload,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureLayers,
  signatureManifest,
  signatureTag,
  type SignatureLayer,
} from './simple-signing.js';

export interface SignImageOptions {
  client: RegistryClient;
  reference: ImageReference;
  key: KeyHandle;
  /** Told the digest once it is resolved, before the device is asked (narration). */
  onResolved?: (resolved: { digest: string; mediaType: string }) => void;
  /** How many times to add the signature again when another signer's write replaced it (default 5). */
  attempts?: number;
}

export interface SignImageResult {
  /** `registry/repository`, as the signature names it. */
  repository: string;
  tag: string | null;
  digest: string;
  /** An image manifest, or an index (a multi-platform image, signed as the index). */
  mediaType: string;
  signatureTag: string;
  /** The `.sig` manifest's digest after the write. */
  signatureManifest: string;
  /** Signatures the `.sig` manifest holds now, this one included. */
  signatures: number;
  /** The key had signed this digest before: nothing was written, and the device was not asked. */
  alreadySigned: boolean;
  keyId: string;
  signedBy: string;
  /** Writes of the `.sig` manifest it took (more than one when another signer wrote at the same time). */
  writes: number;
}

/** The manifest a reference names, or IMAGE_NOT_FOUND. */
export async function resolveImage(client: RegistryClient, reference: ImageReference, push = false): Promise<Manifest> {
  const manifest = await client.manifest(reference.repository, reference.digest ?? reference.tag!, { push });
  if (!manifest) {
    throw keywardError('IMAGE_NOT_FOUND', `${client.registry} has no image ${formatReference(reference)}`, {
      hint: 'check the repository and tag (skopeo list-tags docker://REGISTRY/REPOSITORY lists the tags)',
    });
  }
  return manifest;
}

/** The `.sig` manifest of a digest: its layers (none when there is no such tag) and its digest. */
export async function readSignatures(
  client: RegistryClient,
  repository: string,
  digest: string,
  push = false,
): Promise<{ layers: SignatureLayer[]; raw: unknown[]; digest: string | undefined }> {
  const existing = await client.manifest(repository, signatureTag(digest), { push });
  if (!existing) return { layers: [], raw: [], digest: undefined };
  const layers = signatureLayers(existing.json);
  return { layers, raw: existing.json.layers as unknown[], digest: existing.digest };
}

export async function signImage(options: SignImageOptions): Promise<SignImageResult> {
  const { client, reference, key } = options;
  const repository = reference.repository;
  const resolved = await resolveImage(client, reference, true);
  const { digest, mediaType } = resolved;
  options.onResolved?.({ digest, mediaType });
  const payload = makePayload(repositoryName(reference), digest);
  const payloadDigest = digestOf(payload);
  const spki = await key.publicKey();
  const id = keyId(spki);
  const publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const base = {
    repository: repositoryName(reference),
    tag: reference.tag ?? null,
    digest,
    mediaType,
    signatureTag: signatureTag(digest),
    keyId: id,
    signedBy: key.info.uri,
  };
  const mine = (layer: SignatureLayer) =>
    layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
    layer.digest === payloadDigest &&
    signatureVerifies(publicKey, payload, Buffer.from(layer.annotations?.[SIGNATURE_ANNOTATION] ?? '', 'base64'));

  const before = await readSignatures(client, repository, digest, true);
  if (before.layers.some(mine)) {
    return { ...base, signatureManifest: before.digest!, signatures: before.layers.length, alreadySigned: true, writes: 0 };
  }

  // The device signs before anything is written: a wrong PIN or no touch changes nothing.
  const signature = Buffer.from(await key.sign(payload, SIGN_OPTIONS)).toString('base64');

  if (!reference.digest) {
    const now = await client.manifest(repository, reference.tag!, { push: true });
    if (now?.digest !== digest) {
      throw keywardError(
        'IMAGE_TAG_MOVED',
        `${formatReference(reference)} moved while it was being signed: it named ${digest} and now ${now ? `names ${now.digest}` : 'is gone'}; nothing was written`,
        {
          hint: `sign the digest you mean: keyward image sign ${repositoryName(reference)}@${now?.digest ?? digest} (or run the command again to sign what the tag names now)`,
          details: { signedDigest: digest, tagNowNames: now?.digest ?? null },
        },
      );
    }
  }

  await client.pushBlob(repository, payload);
  const layer: SignatureLayer = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: payloadDigest,
    size: payload.length,
    annotations: { [SIGNATURE_ANNOTATION]: signature, [KEY_HINT_ANNOTATION]: id },
  };
  const attempts = options.attempts ?? 5;
  const ours = (l: SignatureLayer) => l.annotations?.[SIGNATURE_ANNOTATION] === signature;
  let current = before;
  for (let write = 1; write <= attempts; write++) {
    const raw = [...current.raw, layer];
    const { manifest, config } = signatureManifest(raw as SignatureLayer[]);
    await client.pushBlob(repository, config);
    // The narrowest window a registry allows: the .sig is read again just before the PUT.
    const latest = await readSignatures(client, repository, digest, true);
    if (latest.digest !== current.digest) {
      current = latest;
      continue;
    }
    await client.putManifest(repository, signatureTag(digest), manifest, MEDIA_TYPES.ociManifest);
    const after = await readSignatures(client, repository, digest, true);
    if (after.layers.some(ours)) {
      return { ...base, signatureManifest: after.digest!, signatures: after.layers.length, alreadySigned: false, writes: write };
    }
    // Another signer's write replaced ours: add it again to what is there now.
    current = after;
    await sleep(50 + Math.floor(Math.random() * 200 * write));
  }
  throw keywardError('IMAGE_SIGNATURE_CONFLICT', `other writers kept replacing ${signatureTag(digest)} in ${repository}; the signature was not kept after ${attempts} writes`, {
    hint: 'another signer is writing signatures for this image at the same time: run the command again once it has finished',
  });
}
