/**
 * Who may obtain which node identity from the CA server. A node certificate is a cluster
 * identity, so the identity asked for is bound to the caller:
 *
 *   caller                                         may obtain
 *   no authentication (loopback only)              any node of the cluster
 *   an authsign HMAC token                         any node of the cluster (stands for a manager)
 *   a manager's certificate (mutual TLS)           any node of the cluster
 *   a worker's certificate (--client-auth cluster) its own node ID as a worker: a renewal
 *   anything else                                  nothing
 *
 * SwarmKit's managers are the only callers of an external CA in a Swarm: they ask for every node.
 */
import { ROLES } from '../names.js';
import type { NodeIdentity } from '../authority.js';

/** The verified client certificate's subject, as the TLS layer established it. */
export interface CertifiedCaller {
  organization?: string;
  organizationalUnit?: string;
  commonName?: string;
}

/** How the request was authenticated. */
export type Requester = { by: 'nothing' } | { by: 'authsign' } | { by: 'certificate'; certificate: CertifiedCaller };

/** Which client certificates may reach the API at all (`--client-auth`). */
export type CallerPolicy = 'any' | 'cluster' | 'managers';

/** Why a caller may not reach the API, or undefined when it may. */
export function admissionRefusal(policy: CallerPolicy, certificate: CertifiedCaller | undefined, clusterId: string): string | undefined {
  if (policy === 'any') return undefined;
  if (!certificate) return 'a client certificate is required';
  if (certificate.organization !== clusterId) return `client certificates of cluster "${clusterId}" only`;
  if (policy === 'managers' && certificate.organizationalUnit !== ROLES.manager) return 'only managers may request certificates';
  return undefined;
}

/** Why this requester, admitted already, may not obtain `identity`; undefined when it may. */
export function identityRefusal(requester: Requester, identity: NodeIdentity): string | undefined {
  if (requester.by !== 'certificate') return undefined;
  const { organizationalUnit, commonName } = requester.certificate;
  if (organizationalUnit === ROLES.manager) return undefined;
  if (organizationalUnit === ROLES.worker) {
    if (identity.role === 'worker' && identity.nodeId === commonName) return undefined;
    return `a worker may renew only its own certificate (${ROLES.worker}, node "${commonName}"), not ${ROLES[identity.role]} "${identity.nodeId}"`;
  }
  return `a certificate of "${organizationalUnit ?? 'no role'}" may not request node certificates`;
}
