/**
 * Image references as people write them, `registry/repository:tag` or `registry/repository@sha256:…`
 * (both: the digest wins, as Docker does), and manifest digests. The registry is always named: a
 * signature binds `registry/repository`, so Keyward never guesses Docker Hub. Grammar from the OCI
 * distribution spec (repository names, tags) and docker/distribution's reference package (hosts).
 */
import { createHash } from 'node:crypto';
import { keywardError } from '../errors.js';

export interface ImageReference {
  /** `host[:port]`, as given (`127.0.0.1:5000`, `registry.example`). */
  registry: string;
  /** The repository inside the registry: `team/app`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`. */
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** docker/distribution's limit on a whole name (registry and repository). */
const MAX_NAME = 255;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** `sha256:<hex>` of bytes. */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `registry/repository`: what a signature's docker-reference names. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The reference as a person would write it (digest form when the digest is known). */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function parseImageReference(text: string): ImageReference {
  const invalid = (why: string) =>
    keywardError('IMAGE_REFERENCE_INVALID', `"${text}" is not an image reference: ${why}`, {
      hint: 'write registry/repository:tag or registry/repository@sha256:<64 hex>, e.g. 127.0.0.1:5000/demo/app:1.0',
    });
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(`the digest "${digest}" is not sha256: and 64 lowercase hex digits`);
  }
  const slash = rest.indexOf('/');
  if (slash === -1) throw invalid('it names no registry (Keyward signs registry/repository, never a guessed Docker Hub name)');
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  if (!HOST.test(registry) || !(registry.includes('.') || registry.includes(':') || registry === 'localhost' || registry.startsWith('['))) {
    throw invalid(`"${registry}" is not a registry host (a name with a dot or a port, localhost, or an address)`);
  }
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon !== -1) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`the tag "${tag}" is not 1 to 128 letters, digits, "_", "." or "-" (not starting with "." or "-")`);
  }
  if (!REPOSITORY.test(path)) throw invalid(`the repository "${path}" is not lowercase components separated by "/"`);
  if (registry.length + 1 + path.length > MAX_NAME) throw invalid(`the name is longer than ${MAX_NAME} characters`);
  if (!tag && !digest) throw invalid('it names neither a tag (:1.0) nor a digest (@sha256:…)');
  return { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Whether a registry host is this machine (plain HTTP is allowed only there). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(host);
}
