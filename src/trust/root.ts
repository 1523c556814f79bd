/** The root role (spec §4.4 "File formats: root.json"): the keys and thresholds of every top-level role. */
import { TrustError } from './errors.js';
import type { TufKey } from './keys.js';
import {
  keyMap,
  malformed,
  object,
  parseMetadata,
  roleKeys,
  TOP_LEVEL_ROLES,
  type Json,
  type Metadata,
  type ParseOptions,
  type RoleKeys,
  type Signed,
  type TopLevelRole,
} from './metadata.js';

export interface RootSigned extends Signed {
  _type: 'root';
  consistent_snapshot?: boolean;
  keys: Record<string, TufKey>;
  roles: Record<TopLevelRole, RoleKeys> & Record<string, RoleKeys>;
}

export function checkRoot(signed: Json, role: string): void {
  keyMap(signed.keys, role, 'keys');
  const roles = object(signed.roles, role, 'roles');
  for (const name of TOP_LEVEL_ROLES) {
    if (!Object.hasOwn(roles, name)) throw malformed(role, `roles has no "${name}" entry`);
    roleKeys(roles[name], role, `roles.${name}`);
  }
  if (signed.consistent_snapshot !== undefined && typeof signed.consistent_snapshot !== 'boolean') {
    throw malformed(role, 'consistent_snapshot must be true or false');
  }
}

export function parseRoot(bytes: Uint8Array, options?: ParseOptions): Metadata<RootSigned> {
  return parseMetadata<RootSigned>(bytes, 'root', 'root', checkRoot, options);
}

/** The keys and threshold the root assigns to a top-level role. */
export function rootRole(root: RootSigned, name: TopLevelRole): RoleKeys {
  const entry = root.roles[name];
  if (!entry) throw new TrustError('root', 'malformed', `roles has no "${name}" entry`);
  return entry;
}

/** Whether two roots assign the same keys to a role (spec §5.3.11 asks after timestamp and snapshot). */
export function sameRoleKeys(a: RootSigned, b: RootSigned, name: TopLevelRole): boolean {
  const x = [...a.roles[name].keyids].sort();
  const y = [...b.roles[name].keyids].sort();
  return x.length === y.length && x.every((id, i) => id === y[i]);
}
