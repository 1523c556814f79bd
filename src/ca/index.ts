/**
 * `keyward/ca`: the cluster CA as a library, the same steps `keyward ca …` and the ceremonies run.
 * A `CaDirectory` holds certificates, CRLs, the ledger and key URIs (never a key); each step opens
 * its keys through a `Keystore` (key URIs as `KeyUri`: `KeyUri.of` for the caller's own, `KeyUri.fromFile` for
 * what a file said), checks everything it can first (`check…`), and returns a record of what it did. `openAuthority` is the online CA that issues node certificates.
 */
export { CaDirectory, CA_FILES, type CaConfig, type CrlRole } from './store.js';
export { KeyUri } from '../keystore/uri/origin.js';
export type { CertificateRecord, CrlRecord, FileRecord, KeyRecord, LedgerRecord, StepRecord, StepRun } from './steps/record.js';
export type { CertificateReview } from './issue.js';
export { checkRootCa, createRootCa, type RootCreateOptions } from './steps/root.js';
export {
  checkClusterIntermediate,
  checkIntermediateInstall,
  checkIntermediateRequest,
  createClusterIntermediate,
  installClusterIntermediate,
  requestClusterIntermediate,
  type IntermediateCreateOptions,
  type IntermediateInstallOptions,
  type IntermediateRequestOptions,
} from './steps/intermediate.js';
export {
  checkRootCrl,
  revokeCertificate,
  signIntermediateCrl,
  signRootCrl,
  type IntermediateCrlOptions,
  type RevokeOptions,
  type RootCrlOptions,
} from './steps/revocation.js';
export { beginRootRotation, checkRootRotation, finishRootRotation, type RotationOptions } from './steps/rotation.js';
export { caKeyRole, checkUseCaKey, notTheCasKey, proveCaKey, useCaKey, type CaKeyProof, type CaKeyRole, type UseCaKeyOptions } from './steps/use-key.js';
export { caStatus, type CaStatus, type CertificateStatus } from './steps/status.js';
export { Authority, IssuedCertificate, openAuthority, type AuthorityPolicy, type NodeIdentity, type NodeOrder, type NodeRequest } from './authority.js';
export { createJoinToken, parseJoinToken, rootDigest, verifyJoinToken, type ParsedJoinToken } from './join-token.js';
export { REVOCATION_REASONS, type LedgerEntry, type RevocationReason } from './ledger/ledger.js';
export { ROLES, type Role } from './names.js';
export type { RootOptions } from './issue.js';
export type { PublicationUrls } from './profiles.js';
