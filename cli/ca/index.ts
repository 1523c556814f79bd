/** `keyward ca …`: a cluster's PKI: offline root, cluster intermediate, node certificates, CRLs, rotation, join tokens, the ledger, the cfssl-compatible server. */
import type { Command } from 'commander';
import { defineIntermediate } from './intermediate.js';
import { defineIssue } from './issue.js';
import { defineJoinToken } from './join-token.js';
import { defineLedger } from './ledger.js';
import { defineRevocation } from './revocation.js';
import { defineRoot } from './root.js';
import { defineRotation } from './rotation.js';
import { defineServe } from './serve.js';
import { defineStatus } from './status.js';
import { defineSwarm } from './swarm.js';
import { defineUseKey } from './use-key.js';

/** `keyward ca`'s commands, in the order its help lists them. */
export function defineCa(ca: Command): void {
  defineRoot(ca);
  defineIntermediate(ca);
  defineIssue(ca);
  defineRevocation(ca);
  defineRotation(ca);
  defineUseKey(ca);
  defineStatus(ca);
  defineLedger(ca);
  defineJoinToken(ca);
  defineServe(ca);
  defineSwarm(ca);
}
