/**
 * Reading what a reference names in a registry: its manifest (or IMAGE_NOT_FOUND), and the
 * `.sig` manifest of a digest with its signature layers, as signing and verifying both need them.
 */
import { keywardError } from '../errors.js';
import { formatReference, type ImageReference } from './reference.js';
import type { Manifest, RegistryClient } from './registry.js';
import { signatureLayers, signatureTag, type SignatureLayer } from './simple-signing.js';

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
