/** Keyward's public API: the keystore, its URIs and WebCrypto bridge, TUF trust, errors and secrets. */
export { Keystore, type Administration, type KeystoreOptions, type Scheme } from './keystore/keystore.js';
export { KeyUri, type UriOrigin } from './keystore/uri/origin.js';
export type { Attestation, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend, SignOptions } from './keystore/backend.js';
export { nonInteractive, type Interaction, type Notice } from './keystore/interaction.js';
export { devicePinVariable, type PinDeviceKind } from './keystore/device-pins.js';
export { formatPkcs11Uri, parsePkcs11Uri, UriError, type Pkcs11Uri } from './keystore/uri/index.js';
export {
  hardwareKeyPair,
  HardwareCryptoKey,
  KeywardCrypto,
  KeywardSubtleCrypto,
  type HardwareKeyOptions,
  type HardwareKeyPair,
  type RsaScheme,
} from './keystore/webcrypto.js';
export type { InitTokenRequest, Pkcs11Administration, TokenSummary } from './keystore/pkcs11/administration.js';
export type { AdministeredYubiKey, DeviceSummary, YubiKeyAdministration } from './keystore/yubikey/administration.js';
export { ALGORITHMS, KEY_ALGORITHMS, type HashName, type KeyAlgorithm, type RsaPadding } from './crypto/algorithms.js';
export { createSelfSignedCertificate, type SelfSignedOptions } from './certificates/self-signed.js';
export * from './errors.js';
export { Secret } from './secret.js';
export { canonicalize, canonicalBytes } from './trust/canonical-json.js';
export { keyIdOf, tufKeyFromSpki, verifySignature, type TufKey } from './trust/keys.js';
export { TrustError, type TrustFailure } from './trust/errors.js';
export { initClient, Updater, type FoundTarget, type Limits, type UpdaterOptions } from './trust/client/updater.js';
export { Repository, type ChangeReport, type ChangeRequest, type InitOptions, type KeySource, type RepositoryOptions } from './trust/repository/repository.js';
export type { RepositoryEdits } from './trust/repository/edits.js';
export type { PublishReport } from './trust/repository/publishing.js';
export type { RoleStatus } from './trust/repository/requirements.js';
export type { Approval, Review } from './trust/repository/review.js';
export type { PublishedStore } from './trust/repository/store.js';
export { TUF_1_0, type Dialect, type MetadataKey } from './trust/dialect.js';
export { deviceSigner, metadataSigner, signerOf, type Signer, type TufSigner } from './trust/signer.js';
export { NOTARY, notaryKeyFromSpki, notaryKeyId, x509Key, type NotaryKey } from './trust/notary/dialect.js';
export {
  NotaryRepository,
  type NotaryContext,
  type PublishReport as NotaryPublishReport,
  type TargetEntry as NotaryTargetEntry,
} from './trust/notary/repository.js';
export { NotaryServer, type NotaryServerOptions } from './trust/notary/server.js';
export { TrustStore as NotaryTrustStore } from './trust/notary/trust-store.js';
export { checkGun, parseReference } from './trust/notary/gun.js';
