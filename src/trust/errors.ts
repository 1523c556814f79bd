/**
 * Why a piece of TUF metadata was refused: always the role it concerns and the reason, so that an
 * operator knows which file to look at ("snapshot: expired on …"), with a stable code for scripts.
 */
import { KeywardError, type ErrorCode, type KeywardErrorOptions } from '../errors.js';

export type TrustFailure =
  | 'malformed'
  | 'signature'
  | 'threshold'
  | 'key-id'
  | 'expired'
  | 'rollback'
  | 'version-mismatch'
  | 'hash-mismatch'
  | 'length'
  | 'type'
  | 'not-found'
  | 'unsupported';

const HINTS: Record<TrustFailure, string> = {
  malformed: 'the file is not valid TUF 1.0 metadata; the repository or the connection to it is broken',
  signature: 'the file was changed after it was signed, or signed by a key this role does not trust',
  threshold: 'collect the missing signatures (keyward trust repo status shows who is missing) before publishing',
  'key-id': 'a key id must be the SHA-256 of the canonical key; the metadata was edited by hand or forged',
  expired: 'the publisher must re-sign this role (for timestamp and snapshot: keyward trust repo refresh)',
  rollback: 'the repository serves older metadata than this client already trusts: a rollback or a stale mirror',
  'version-mismatch': 'the repository is inconsistent: a role was published without refreshing snapshot and timestamp',
  'hash-mismatch': 'the file is not the one the signed metadata describes: corrupted or substituted',
  length: 'the file is larger than the signed metadata allows: an endless-data attack or a broken mirror',
  type: 'the file holds another role than its name says',
  'not-found': 'the repository does not have it',
  unsupported: 'this key type, scheme or spec version is not one TUF 1.0 clients share',
};

/** The code of each failure (src/error-codes.ts gives TUF_NOT_FOUND exit code 3, the others 6). */
const CODES = {
  malformed: 'TUF_MALFORMED',
  signature: 'TUF_SIGNATURE',
  threshold: 'TUF_THRESHOLD',
  'key-id': 'TUF_KEY_ID',
  expired: 'TUF_EXPIRED',
  rollback: 'TUF_ROLLBACK',
  'version-mismatch': 'TUF_VERSION_MISMATCH',
  'hash-mismatch': 'TUF_HASH_MISMATCH',
  length: 'TUF_LENGTH',
  type: 'TUF_TYPE',
  'not-found': 'TUF_NOT_FOUND',
  unsupported: 'TUF_UNSUPPORTED',
} as const satisfies Record<TrustFailure, ErrorCode>;

/** A refusal of TUF metadata or a target: names the role and the reason. */
export class TrustError extends KeywardError {
  readonly role: string;
  readonly failure: TrustFailure;

  constructor(role: string, failure: TrustFailure, reason: string, options: KeywardErrorOptions = {}) {
    super(CODES[failure], `${role}: ${reason}`, {
      hint: HINTS[failure],
      ...options,
      details: { role, failure, ...options.details },
    });
    this.role = role;
    this.failure = failure;
  }
}
