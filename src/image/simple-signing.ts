/**
 * Cosign's signature format as cosign and containers/image (skopeo, podman, CRI-O) read it: a
 * "simple signing" payload naming a repository and a manifest digest, signed as raw bytes, stored as
 * a layer of an OCI manifest under the tag `sha256-<hex>.sig` in the image's repository, the
 * signature in the layer's `dev.cosignproject.cosign/signature` annotation. Several signatures are
 * several layers of that one manifest.
 */
import { keywardError } from '../errors.js';
import { isObject, jsonObject } from './json.js';
import { digestOf, isDigest } from './reference.js';
import { MEDIA_TYPES } from './registry.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Not read by verifiers: which key made a layer, as a hint for `image signatures` (the signature is what proves it). */
export const KEY_HINT_ANNOTATION = 'dev.keyward/public-key-sha256';
const PAYLOAD_TYPE = 'cosign container image signature';
/** More than any payload (cosign's are a few hundred bytes; skopeo's with creator and timestamp, under 1 KiB). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Signatures one image may carry before Keyward stops reading (cosign has no limit; a registry could send thousands). */
export const MAX_SIGNATURES = 256;

/** The tag a digest's signatures live under. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

export interface Payload {
  /** `registry/repository` (or with a tag, as skopeo writes). */
  dockerReference: string;
  digest: string;
  creator?: string;
  /** Seconds since 1970, when the signer said. */
  timestamp?: number;
}

/** The exact bytes Keyward signs and uploads. `critical` holds exactly the keys verifiers demand. */
export function makePayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: PAYLOAD_TYPE },
      optional: null,
    }),
  );
}

/** Reads a payload as strictly as containers/image: exactly these keys in `critical`, `optional` present. */
export function parsePayload(bytes: Uint8Array): Payload {
  const invalid = (why: string) => keywardError('SIGNATURE_PAYLOAD_INVALID', `a signature payload is not a simple-signing payload: ${why}`);
  const json = jsonObject(bytes);
  if (!json) throw invalid('not a JSON object');
  const exactly = (object: Record<string, unknown>, keys: string[], where: string) => {
    const extra = Object.keys(object).filter((k) => !keys.includes(k));
    const missing = keys.filter((k) => !Object.hasOwn(object, k));
    if (extra.length || missing.length) throw invalid(`${where} ${missing.length ? `lacks "${missing.join('", "')}"` : `has unknown "${extra.join('", "')}"`}`);
  };
  exactly(json, ['critical', 'optional'], 'the payload');
  const { critical, optional } = json;
  if (!isObject(critical)) throw invalid('"critical" is not an object');
  exactly(critical, ['identity', 'image', 'type'], '"critical"');
  if (critical.type !== PAYLOAD_TYPE) throw invalid(`its type is not "${PAYLOAD_TYPE}"`);
  const { identity, image } = critical;
  if (!isObject(identity)) throw invalid('"critical.identity" is not an object');
  exactly(identity, ['docker-reference'], '"critical.identity"');
  if (!isObject(image)) throw invalid('"critical.image" is not an object');
  exactly(image, ['docker-manifest-digest'], '"critical.image"');
  const reference = identity['docker-reference'];
  const digest = image['docker-manifest-digest'];
  if (typeof reference !== 'string' || reference.length === 0) throw invalid('its docker-reference is not a string');
  if (typeof digest !== 'string' || !isDigest(digest)) throw invalid('its docker-manifest-digest is not sha256:<64 hex>');
  if (optional !== null && !isObject(optional)) throw invalid('"optional" is neither null nor an object');
  const payload: Payload = { dockerReference: reference, digest };
  if (isObject(optional)) {
    if (optional.timestamp !== undefined) {
      if (typeof optional.timestamp !== 'number' || !Number.isSafeInteger(optional.timestamp)) throw invalid('"optional.timestamp" is not an integer');
      payload.timestamp = optional.timestamp;
    }
    if (typeof optional.creator === 'string') payload.creator = optional.creator.slice(0, 200);
  }
  return payload;
}

export interface SignatureLayer {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A `.sig` manifest's layers, read strictly enough that nothing odd passes for a signature. */
export function signatureLayers(manifest: Record<string, unknown>): SignatureLayer[] {
  const invalid = (why: string) =>
    keywardError('REGISTRY_RESPONSE_INVALID', `the signature manifest ${why}`, { hint: 'the .sig tag holds something other than cosign signatures' });
  if (manifest.mediaType !== undefined && manifest.mediaType !== MEDIA_TYPES.ociManifest && manifest.mediaType !== MEDIA_TYPES.dockerManifest) {
    throw invalid(`is a ${String(manifest.mediaType)}, not an image manifest`);
  }
  const layers = manifest.layers;
  if (!Array.isArray(layers)) throw invalid('has no layers');
  if (layers.length > MAX_SIGNATURES) throw invalid(`has ${layers.length} layers, more than the ${MAX_SIGNATURES} Keyward reads`);
  return layers.map((layer, i) => {
    if (!isObject(layer) || typeof layer.mediaType !== 'string' || typeof layer.digest !== 'string' || !isDigest(layer.digest)) {
      throw invalid(`layer ${i + 1} is not a descriptor with a media type and a sha256 digest`);
    }
    if (typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0) throw invalid(`layer ${i + 1} has no size`);
    const annotations: Record<string, string> = {};
    if (isObject(layer.annotations)) for (const [k, v] of Object.entries(layer.annotations)) if (typeof v === 'string') annotations[k] = v;
    return { mediaType: layer.mediaType, digest: layer.digest, size: layer.size, annotations };
  });
}

/**
 * The `.sig` manifest for `layers` and the config blob it names. The config is what containers/image
 * writes (its diff_ids the payload digests); verifiers never read it, but registries want a config.
 */
export function signatureManifest(layers: SignatureLayer[]): { manifest: Buffer; config: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers,
    }),
  );
  return { manifest, config };
}
