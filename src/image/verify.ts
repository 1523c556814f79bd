/**
 * Reading an image's signatures, and verifying them as containers/image does with a `sigstoreSigned`
 * policy and `matchRepository`: a layer counts only when its media type is exact, its payload is the
 * blob its digest names, the payload names the digest resolved now and this repository, and the
 * signature over the payload verifies with a given key. One such layer is enough.
 */
import { keywardError, KeywardError } from '../errors.js';
import { signatureVerifies, type VerifierKey } from './keys.js';
import { formatReference, repositoryName, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry.js';
import { readSignatures, resolveImage } from './resolve.js';
import { KEY_HINT_ANNOTATION, MAX_PAYLOAD_BYTES, parsePayload, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signatureTag } from './simple-signing.js';

export interface SignatureReport {
  /** 1-based, as the layers of the `.sig` manifest. */
  layer: number;
  payloadDigest: string;
  /** What the payload names. */
  signedDigest: string | null;
  identity: string | null;
  creator: string | null;
  timestamp: number | null;
  /** The key the layer says made it (Keyward's hint; unauthenticated). */
  keyHint: string | null;
  /** The given key it verified with (its SHA-256 key id), if any. */
  verifiedBy: string | null;
  /** The subject of that key's certificate, when it came with a chain. */
  subject: string | null;
  /** Why it does not count, in words; null when it verified (or no key was given). */
  problem: string | null;
}

export interface ImageSignatures {
  repository: string;
  tag: string | null;
  digest: string;
  mediaType: string;
  signatureTag: string;
  signatures: SignatureReport[];
}

/** Codes a single bad layer earns: it is reported, and the other layers still count. */
const LAYER_PROBLEMS = new Set([
  'REGISTRY_DIGEST_MISMATCH',
  'REGISTRY_RESPONSE_TOO_LARGE',
  'SIGNATURE_PAYLOAD_INVALID',
  'IMAGE_NOT_FOUND',
  'REGISTRY_HTTP_STATUS',
]);

/** A repository-only identity: `registry/repo:tag` and `registry/repo@sha256:…` name `registry/repo`. */
function identityRepository(identity: string): string {
  const withoutDigest = identity.split('@')[0]!;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** Every signature of what `reference` names now; with `keys`, which of them verify and why the others do not. */
export async function imageSignatures(client: RegistryClient, reference: ImageReference, keys: VerifierKey[] = []): Promise<ImageSignatures> {
  const { digest, mediaType } = await resolveImage(client, reference);
  const repository = repositoryName(reference);
  const { layers } = await readSignatures(client, reference.repository, digest);
  const signatures: SignatureReport[] = [];
  for (const [index, layer] of layers.entries()) {
    const report: SignatureReport = {
      layer: index + 1,
      payloadDigest: layer.digest,
      signedDigest: null,
      identity: null,
      creator: null,
      timestamp: null,
      keyHint: layer.annotations?.[KEY_HINT_ANNOTATION] ?? null,
      verifiedBy: null,
      subject: null,
      problem: null,
    };
    signatures.push(report);
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
      report.problem = `its media type is ${layer.mediaType}, not ${SIMPLE_SIGNING_MEDIA_TYPE}`;
      continue;
    }
    if (layer.size > MAX_PAYLOAD_BYTES) {
      report.problem = `its payload is ${layer.size} bytes, more than the ${MAX_PAYLOAD_BYTES} Keyward reads`;
      continue;
    }
    let payloadBytes: Buffer;
    try {
      payloadBytes = await client.blob(reference.repository, layer.digest, MAX_PAYLOAD_BYTES);
      const payload = parsePayload(payloadBytes);
      Object.assign(report, {
        signedDigest: payload.digest,
        identity: payload.dockerReference,
        creator: payload.creator ?? null,
        timestamp: payload.timestamp ?? null,
      });
    } catch (error) {
      if (!(error instanceof KeywardError) || !LAYER_PROBLEMS.has(error.code)) throw error;
      report.problem = error.message;
      continue;
    }
    if (report.signedDigest !== digest) {
      report.problem = `it signs ${report.signedDigest}, not ${digest}`;
      continue;
    }
    if (identityRepository(report.identity!) !== repository) {
      report.problem = `it names ${report.identity}, not ${repository}`;
      continue;
    }
    const encoded = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (!encoded) {
      report.problem = `it has no ${SIGNATURE_ANNOTATION} annotation`;
      continue;
    }
    if (keys.length === 0) continue;
    const signature = Buffer.from(encoded, 'base64');
    const by = keys.find((k) => signatureVerifies(k.key, payloadBytes, signature));
    if (by) Object.assign(report, { verifiedBy: by.id, subject: by.subject ?? null });
    else report.problem = keys.length === 1 ? 'its signature does not verify with the key given' : 'its signature verifies with none of the keys given';
  }
  return { repository, tag: reference.tag ?? null, digest, mediaType, signatureTag: signatureTag(digest), signatures };
}

/**
 * Succeeds only when a signature by one of `keys` names the digest `reference` resolves to now, for
 * this repository. No signature at all is IMAGE_UNSIGNED (exit 3); signatures of which none verifies
 * are IMAGE_SIGNATURE_INVALID (exit 6), each layer's problem in the message and details.
 */
export async function verifyImage(
  client: RegistryClient,
  reference: ImageReference,
  keys: VerifierKey[],
): Promise<ImageSignatures & { verified: SignatureReport[] }> {
  const found = await imageSignatures(client, reference, keys);
  const verified = found.signatures.filter((s) => s.verifiedBy !== null);
  if (verified.length > 0) return { ...found, verified };
  const named = `${formatReference(reference)} (${found.digest})`;
  if (found.signatures.length === 0) {
    throw keywardError('IMAGE_UNSIGNED', `${named} has no signature (no ${found.signatureTag} in ${found.repository})`, {
      hint: `sign it: keyward image sign ${found.repository}@${found.digest} --key URI`,
      details: { ...found },
    });
  }
  throw keywardError(
    'IMAGE_SIGNATURE_INVALID',
    `no signature of ${named} verifies: ${found.signatures.map((s) => `layer ${s.layer}: ${s.problem ?? 'not checked'}`).join('; ')}`,
    { hint: 'the image is not signed by that key for this digest and repository: do not run it', details: { ...found } },
  );
}
