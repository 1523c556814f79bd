/**
 * Who must sign what: each staged role's thresholds, from the metadata that will be trusted (a root
 * rotation has two: the old root's and its own), who has signed and who is missing; and signing
 * the staged roles with the keys at hand.
 */
import { keywardError } from '../../errors.js';
import type { TufKey } from '../keys.js';
import type { Metadata, RoleKeys, Signed } from '../metadata.js';
import type { RootSigned } from '../root.js';
import { signMetadata, type TufSigner } from '../signer.js';
import { isTopLevel, type RepositoryState, type StagedMetadata } from './state.js';

export interface KeyRef {
  keyid: string;
  uri?: string;
}

/** One threshold a staged role must meet (a root rotation has two: the old root's and its own). */
export interface Requirement {
  by: string;
  threshold: number;
  signed: KeyRef[];
  missing: KeyRef[];
  met: boolean;
}

export interface RoleStatus {
  role: string;
  version: number;
  expires: string;
  staged: boolean;
  met: boolean;
  requirements: Requirement[];
}

export interface SignatureMade {
  role: string;
  keyid: string;
  uri: string;
}

/** What each staged role needs: keys and thresholds, from the metadata that will be trusted. */
export function requirements(state: RepositoryState, role: string, metadata: Metadata<Signed>): Requirement[] {
  const uris = state.workspace.readConfig().keys;
  const requirement = (by: string, keys: Record<string, TufKey>, entry: RoleKeys): Requirement => {
    const verified = metadata.verifiedKeyIds(keys, entry);
    const ref = (keyid: string): KeyRef => (uris[keyid] ? { keyid, uri: uris[keyid].text } : { keyid });
    return {
      by,
      threshold: entry.threshold,
      signed: entry.keyids.filter((id) => verified.has(id)).map(ref),
      missing: entry.keyids.filter((id) => !verified.has(id)).map(ref),
      met: verified.size >= entry.threshold,
    };
  };
  if (role === 'root') {
    const next = metadata as Metadata<RootSigned>;
    const own = requirement(`root v${next.signed.version}`, next.signed.keys, next.signed.roles.root);
    if (next.signed.version === 1) return [own];
    const trusted = state.publishedRoot();
    return [requirement(`root v${trusted.signed.version} (the trusted root)`, trusted.signed.keys, trusted.signed.roles.root), own];
  }
  const root = state.root().signed;
  if (isTopLevel(role)) return [requirement('root', root.keys, root.roles[role])];
  const { delegator, entry, keys } = state.delegationOf(role);
  return [requirement(delegator, keys, entry)];
}

/** The staged roles, root first, then delegators before their delegates. */
export function stagedInOrder(state: RepositoryState): StagedMetadata[] {
  const order = ['root', ...state.targetsRoles()];
  const roles = state.stagedRoles();
  const orphan = roles.find((role) => !order.includes(role));
  if (orphan) {
    throw keywardError(
      'TUF_STAGED_ORPHAN',
      `${state.workspace.stagedPath(orphan)} stages role "${orphan}", which no role delegates to: it can never be signed or published`,
      { hint: `keyward trust repo discard ${state.workspace.dir} ${orphan} drops it; or delegate to the role first (keyward trust repo delegate)` },
    );
  }
  return roles.sort((a, b) => order.indexOf(a) - order.indexOf(b)).map((role) => state.staged(role)!);
}

/** Refuses staged metadata that clients would reject as expired: its expiry was set when it was staged. */
export function checkUnexpired(state: RepositoryState, metadata: Metadata<Signed>): void {
  if (Date.parse(metadata.signed.expires) > state.now().getTime()) return;
  throw keywardError(
    'TUF_STAGED_EXPIRED',
    `staged ${metadata.role} v${metadata.signed.version} expired at ${metadata.signed.expires}: clients would refuse it`,
    {
      hint: `keyward trust repo discard ${state.workspace.dir} ${metadata.role}, make the change again (it gets a fresh expiry), then collect its signatures before it expires`,
    },
  );
}

/**
 * Signs every staged role (or only `roles`) that a signer's key may sign; returns who signed what.
 * A signature already there from the same key is replaced, never counted twice.
 */
export async function signStaged(state: RepositoryState, signers: TufSigner[], roles?: string[]): Promise<SignatureMade[]> {
  const done: SignatureMade[] = [];
  const staged = stagedInOrder(state).filter((m) => !roles || roles.includes(m.role));
  for (const metadata of staged) checkUnexpired(state, metadata);
  for (const metadata of staged) {
    const allowed = new Set(requirements(state, metadata.role, metadata).flatMap((r) => [...r.signed, ...r.missing].map((k) => k.keyid)));
    const mine = signers.filter((s) => allowed.has(s.keyid));
    for (const signer of mine) {
      await signMetadata(metadata, signer);
      done.push({ role: metadata.role, keyid: signer.keyid, uri: signer.uri });
    }
    if (mine.length) state.save(metadata);
  }
  return done;
}

/** Per role: version, expiry, staged or published, who signed, who is missing, thresholds met. */
export function status(state: RepositoryState): RoleStatus[] {
  const staged = new Map<string, Metadata<Signed>>(stagedInOrder(state).map((m) => [m.role, m]));
  return ['root', ...state.targetsRoles(), 'snapshot', 'timestamp'].flatMap((role) => {
    const metadata = staged.get(role) ?? state.published(role);
    if (!metadata) return [];
    const needs = requirements(state, role, metadata);
    return [
      {
        role,
        version: metadata.signed.version,
        expires: metadata.signed.expires,
        staged: staged.has(role),
        met: needs.every((r) => r.met),
        requirements: needs,
      },
    ];
  });
}

/** Whether there are staged changes and every one of them meets its thresholds. */
export function ready(state: RepositoryState): boolean {
  const staged = stagedInOrder(state);
  return staged.length > 0 && staged.every((m) => requirements(state, m.role, m).every((r) => r.met));
}
