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
 * signer that another signer overwrote would lose its layer: the `.sig` is read again just before
 * each PUT (a change since it was read starts over), read back after it and once more a moment
 * later, and a layer found missing is added again, a few times, before giving up with an error.
 * A write that lands later than that moment after its own read could still drop a layer:
 * `keyward image verify` is the proof that a signature is there.
 */
import { createPublicKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { keywardError, KeywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import { keyId, signatureVerifies, signOptions } from './keys.js';
import { digestOf, formatReference, repositoryName, type ImageReference } from './reference.js';
import { MEDIA_TYPES, type Manifest, type RegistryClient } from './registry.js';
import { readSignatures, resolveImage } from './resolve.js';
import {
  KEY_HINT_ANNOTATION,
  makePayload,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
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
  /** How many times to write the signature again when another signer's write replaced it (default 8). */
  attempts?: number;
  /**
   * An index: sign each platform's manifest it lists too (as `cosign sign --recursive`): containers/image
   * checks the signature of the platform manifest it pulls. One signature in the device per digest.
   */
  recursive?: boolean;
  /** How long after a write the `.sig` is read once more, to see a concurrent signer's late write (default SETTLE_MS). */
  settleMs?: number;
}

/** Long against the moments between a signer's read of the `.sig` and its write. */
export const SETTLE_MS = 500;

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
  /** With `recursive`, each platform's manifest of the index, signed too. */
  platforms: DigestSigned[];
}

/** One digest to sign: the image itself, or with `recursive` a platform's manifest of its index. */
interface Target {
  digest: string;
  mediaType: string;
  /** `os/architecture[/variant]` of a platform's manifest; null for what the reference names. */
  platform: string | null;
  payload: Buffer;
  before: Awaited<ReturnType<typeof readSignatures>>;
  signature?: string;
}

/** What one digest's `.sig` holds after signing. */
export interface DigestSigned {
  digest: string;
  mediaType: string;
  platform: string | null;
  signatureTag: string;
  signatureManifest: string;
  signatures: number;
  alreadySigned: boolean;
  writes: number;
}

/** At most this many platforms of an index are signed with `recursive` (each is one signature in the device). */
export const MAX_PLATFORMS = 64;

/** The platform manifests an index lists, each fetched (so its digest is checked) from the registry. */
async function platformsOf(
  client: RegistryClient,
  repository: string,
  index: Manifest,
): Promise<Array<{ digest: string; mediaType: string; platform: string }>> {
  const listed = index.json.manifests;
  if (!Array.isArray(listed) || listed.length > MAX_PLATFORMS) {
    throw keywardError(
      'REGISTRY_RESPONSE_INVALID',
      `the index ${index.digest} lists ${Array.isArray(listed) ? `${listed.length} manifests, more than ${MAX_PLATFORMS}` : 'no manifests'}`,
      {
        hint: 'sign the index alone (without --recursive)',
      },
    );
  }
  const out = [];
  for (const entry of listed as Array<Record<string, unknown>>) {
    const digest = typeof entry?.digest === 'string' ? entry.digest : '';
    const manifest = await resolveImage(client, { registry: client.registry, repository, digest }, true);
    const platform = (entry.platform ?? {}) as Record<string, unknown>;
    out.push({
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      platform: [platform.os, platform.architecture, platform.variant].filter((x) => typeof x === 'string').join('/') || 'unknown',
    });
  }
  return out;
}

export async function signImage(options: SignImageOptions): Promise<SignImageResult> {
  const { client, reference, key } = options;
  const repository = reference.repository;
  const resolved = await resolveImage(client, reference, true);
  const { digest, mediaType } = resolved;
  options.onResolved?.({ digest, mediaType });
  const spki = await key.publicKey();
  const id = keyId(spki);
  const publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const isIndex = mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;
  const digests = [{ digest, mediaType, platform: null as string | null }];
  if (options.recursive && isIndex) digests.push(...(await platformsOf(client, repository, resolved)));

  const targets: Target[] = [];
  for (const d of digests) {
    const payload = makePayload(repositoryName(reference), d.digest);
    targets.push({ ...d, payload, before: await readSignatures(client, repository, d.digest, true) });
  }
  const mine = (target: Target) => (layer: SignatureLayer) =>
    layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
    layer.digest === digestOf(target.payload) &&
    signatureVerifies(publicKey, target.payload, Buffer.from(layer.annotations?.[SIGNATURE_ANNOTATION] ?? '', 'base64'));

  // The device signs everything before anything is written: a wrong PIN or no touch changes nothing.
  for (const target of targets) {
    if (target.before.layers.some(mine(target))) continue;
    target.signature = Buffer.from(await key.sign(target.payload, signOptions(key.info.algorithm))).toString('base64');
  }

  if (!reference.digest && targets.some((t) => t.signature)) {
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

  const done: DigestSigned[] = [];
  for (const target of targets) {
    const common = { digest: target.digest, mediaType: target.mediaType, platform: target.platform, signatureTag: signatureTag(target.digest) };
    if (!target.signature) {
      done.push({ ...common, signatureManifest: target.before.digest!, signatures: target.before.layers.length, alreadySigned: true, writes: 0 });
      continue;
    }
    const layer: SignatureLayer = {
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      digest: digestOf(target.payload),
      size: target.payload.length,
      annotations: { [SIGNATURE_ANNOTATION]: target.signature, [KEY_HINT_ANNOTATION]: id },
    };
    const added = await addLayer(client, repository, target.digest, target.payload, layer, target.before, options);
    done.push({ ...common, ...added, alreadySigned: false });
  }
  const [top, ...platforms] = done;
  return { repository: repositoryName(reference), tag: reference.tag ?? null, keyId: id, signedBy: key.info.uri, ...top!, platforms };
}

/**
 * Adds `layer` to a digest's `.sig` manifest, keeping every layer there: read, write, read back,
 * and again after SETTLE_MS; a layer another writer dropped is added again, `attempts` times.
 */
async function addLayer(
  client: RegistryClient,
  repository: string,
  digest: string,
  payload: Buffer,
  layer: SignatureLayer,
  before: Awaited<ReturnType<typeof readSignatures>>,
  options: { attempts?: number; settleMs?: number },
): Promise<{ signatureManifest: string; signatures: number; writes: number }> {
  const attempts = options.attempts ?? 8;
  const signature = layer.annotations![SIGNATURE_ANNOTATION];
  const ours = (l: SignatureLayer) => l.annotations?.[SIGNATURE_ANNOTATION] === signature;
  let current = before;
  for (let write = 1; write <= attempts; write++) {
    const raw = [...current.raw, layer];
    const { manifest, config } = signatureManifest(raw as SignatureLayer[]);
    // Every attempt makes sure of both blobs: signers uploading the same payload at once can make a
    // registry (distribution 2.8) lose track of it for a moment.
    await client.pushBlob(repository, payload);
    await client.pushBlob(repository, config);
    // The narrowest window a registry allows: the .sig is read again just before the PUT.
    const latest = await readSignatures(client, repository, digest, true);
    if (latest.digest !== current.digest) {
      current = latest;
      continue;
    }
    try {
      await client.putManifest(repository, signatureTag(digest), manifest, MEDIA_TYPES.ociManifest);
    } catch (error) {
      if (!blobLost(error)) throw error;
      await sleep(50 + Math.floor(Math.random() * 200 * write));
      continue;
    }
    let after = await readSignatures(client, repository, digest, true);
    if (after.layers.some(ours)) {
      // A signer that read before our PUT and wrote after it would drop our layer: such a write
      // lands within moments of its read, so look once more after a while.
      await sleep(options.settleMs ?? SETTLE_MS);
      after = await readSignatures(client, repository, digest, true);
      if (after.layers.some(ours)) return { signatureManifest: after.digest!, signatures: after.layers.length, writes: write };
    }
    // Another signer's write replaced ours: add it again to what is there now.
    current = after;
    await sleep(50 + Math.floor(Math.random() * 200 * write));
  }
  throw keywardError(
    'IMAGE_SIGNATURE_CONFLICT',
    `other writers kept replacing ${signatureTag(digest)} in ${repository}; the signature was not kept after ${attempts} writes`,
    {
      hint: 'another signer is writing signatures for this image at the same time: run the command again once it has finished',
    },
  );
}

/** A manifest PUT the registry refused for a blob it had a moment before (another upload of the same blob in progress). */
function blobLost(error: unknown): boolean {
  const codes = error instanceof KeywardError && error.code === 'REGISTRY_HTTP_STATUS' ? (error.details?.registryErrors as string[] | undefined) : undefined;
  return codes?.includes('MANIFEST_BLOB_UNKNOWN') ?? false;
}
