/**
 * Swarm-style names (SwarmKit ca/certificates.go): a node certificate's subject is
 * O=<cluster ID>, OU=<role>, CN=<node ID>, in that order, so that a directoryName constraint
 * O=<cluster ID> on the intermediate covers exactly one cluster's nodes.
 */
import { keywardError } from '../errors.js';
import { quoted } from '../quoted.js';

export const ROLES = { manager: 'swarm-manager', worker: 'swarm-worker' } as const;
export type Role = keyof typeof ROLES;
/** The SAN a manager carries so that nodes can reach "the CA" by that name. */
export const MANAGER_CA_SAN = 'swarm-ca';

/** The name attributes a node's subject is made of (and that a CSR's subject is read for). */
export const NAME_OIDS = { organization: '2.5.4.10', organizationalUnit: '2.5.4.11', commonName: '2.5.4.3' } as const;

/** SwarmKit's IDs are 25 lowercase base-36 characters; operators may name clusters more freely. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkIdentifier(value: string, what: 'cluster ID' | 'node ID'): string {
  if (!IDENTIFIER.test(value)) {
    throw keywardError(what === 'cluster ID' ? 'CLUSTER_ID_INVALID' : 'NODE_ID_INVALID', `${quoted(value)} is not a valid ${what}`, {
      hint: 'use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit (SwarmKit uses 25 lowercase base-36 characters)',
    });
  }
  return value;
}

export function roleOf(value: string): Role {
  if (value === ROLES.manager || value === 'manager') return 'manager';
  if (value === ROLES.worker || value === 'worker') return 'worker';
  throw keywardError('ROLE_INVALID', `${quoted(value)} is not a node role`, { hint: `use ${ROLES.manager} or ${ROLES.worker}` });
}

/** Escapes a value for x509's DN string syntax (RFC 4514). */
function rdnValue(value: string): string {
  return value.replace(/[\\,+"<>;=]/g, '\\$&').replace(/^[ #]|[ ]$/g, '\\$&');
}

export function nodeSubject(clusterId: string, role: Role, nodeId: string): string {
  return `O=${rdnValue(clusterId)}, OU=${ROLES[role]}, CN=${rdnValue(nodeId)}`;
}

export function nodeSans(role: Role, nodeId: string): string[] {
  return role === 'manager' ? [ROLES.manager, nodeId, MANAGER_CA_SAN] : [ROLES.worker, nodeId];
}
