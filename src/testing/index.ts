/**
 * `keyward/testing`: throw-away real parts for tests and CI, as Keyward's own tests use them.
 * SoftHSM stores and tokens with random PINs, an emulated YubiKey in this process, or served by the
 * `keyward` binary into a private pcscd through vsmartcard-vpcd (where ykman and OpenSC see it), a
 * Docker daemon of its own, a PostgreSQL server of its own, a static web server, free ports; and independent verifiers (OpenSSL, a
 * mutual-TLS handshake with Node's tls). Nothing here is for keys that matter.
 */
export {
  createSoftHsmStore,
  createTestToken,
  processSoftHsmStore,
  recordingInteraction,
  softHsmModule,
  softHsmUnavailable,
  useSoftHsmStore,
  type SoftHsmStore,
  type TestToken,
  type TestTokenOptions,
} from './softhsm.js';
export { createTestYubiKey, FACTORY_PIN, type TestYubiKey, type TestYubiKeyOptions } from './virtual-yubikey.js';
export { VirtualYubiKey, type CreateOptions as VirtualYubiKeyOptions, type RuntimeOptions as VirtualYubiKeyRuntime } from '../hsm/virtual-yubikey/card.js';
export { FIRMWARE_PROFILES, type FirmwareProfile } from '../hsm/virtual-yubikey/firmware.js';
export type { TouchMode } from '../hsm/virtual-yubikey/touch.js';
export { serveVirtualYubiKey, type ServedCard, type ServeOptions } from '../hsm/virtual-yubikey/serve.js';
export { pcscdUnavailable, READER_NAME, serveVirtualCard, startPcscd, type PcscRig, type ServedVirtualCard, type VirtualCardOptions } from './pcscd.js';
export { DOCKER_CLI, dockerdUnavailable, runCommand, startDockerd, waitUntil, type CommandResult, type Dockerd } from './dockerd.js';
export { freePort, portFree } from './ports.js';
export { postgresUnavailable, startPostgres, type Postgres } from './postgres.js';
export { opensslVerifyCertificate, opensslVerifySignature, opensslVersion, type OpensslResult } from './openssl.js';
export { mtlsHandshake, type HandshakeResult, type TlsIdentity } from './mtls.js';
export { serveDirectory, type StaticSite } from './static-server.js';
export { NOTARY_TEST_PASSPHRASE, notaryServerUnavailable, startNotaryServer, type NotaryServerRig } from './notary-server.js';
export { registryUnavailable, startRegistry, type RegistryServer, type RegistryServerOptions } from './registry.js';
export { sigstoreTools, skopeoUnavailable, systemSkopeo, type Tool } from './sigstore-tools.js';
export { pushTestImage, writeTestImage, type TestImage } from './oci-layout.js';
