/**
 * A cluster's intermediate, made in one ceremony (both keys present: `createClusterIntermediate`
 * with `key`) or split between the online side and the offline root: `requestClusterIntermediate`
 * online, `createClusterIntermediate` with its `csr` at the root, `installClusterIntermediate`
 * back online.
 */
import { keywardError } from '../../errors.js';
import type { GenerateOptions } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { certificatePem, parseCertificate } from '../../x509/certificate.js';
import * as x509 from '../../x509/peculiar.js';
import { samePublicKey } from '../../x509/public-key.js';
import { SigningKey } from '../../certificates/signer.js';
import { CRL_DAYS } from '../crl.js';
import { checkCsr } from '../csr.js';
import { checkWithinIssuer, createClusterCa, createIntermediate, daysFromNow, INTERMEDIATE_DAYS, intermediateSubject } from '../issue.js';
import { checkIdentifier } from '../names.js';
import { clusterNameConstraints, type PublicationUrls } from '../profiles.js';
import { CA_FILES, checkNodeDays, crlFile, type CaConfig, type CaDirectory } from '../store.js';
import { StepRecorder, type StepRecord, type StepRun } from './record.js';
import { checkKeyUri, checkOneCluster, issuedByRoot, openRoot, openSigningKey, recordIssued, writeCrl } from './shared.js';

export interface IntermediateCreateOptions {
  rootKey: KeyUri;
  /**
   * The intermediate's key: present in this ceremony (`key`, made first with `generate`), or only
   * its CSR (`csr`, from `keyward ca intermediate request` on the online side).
   */
  key?: KeyUri;
  generate?: GenerateOptions['algorithm'];
  /** `wrap`: the key made is copyable to a second token by a backup ceremony. */
  backup?: GenerateOptions['backup'];
  csr?: Uint8Array | string;
  clusterId: string;
  days?: number;
  nodeDays?: number;
  urls?: PublicationUrls;
  /** Validity of the root CRL written with it (the root signs it now, while present). */
  rootCrlDays?: number;
}

/** The intermediate's public key from its CSR: self-signature checked, key allow-listed, cluster confirmed. */
async function intermediateCsrKey(csr: Uint8Array | string, clusterId: string): Promise<Uint8Array> {
  const checked = await checkCsr(csr);
  if (checked.requested.organization !== undefined && checked.requested.organization !== clusterId) {
    throw keywardError('CSR_CLUSTER_MISMATCH', `the intermediate's CSR was made for cluster "${checked.requested.organization}", not "${clusterId}"`, {
      hint: 'check the cluster ID with the online side before the root signs',
    });
  }
  return checked.spki;
}

/**
 * What `createClusterIntermediate` checks before any device is opened: the cluster, the key or CSR
 * (its self-signature, its cluster), a root in the directory that outlives the intermediate, the
 * key URIs. Returns the CSR's key, when a CSR was given.
 */
export async function checkClusterIntermediate(directory: CaDirectory, options: IntermediateCreateOptions, now: Date): Promise<Uint8Array | undefined> {
  const clusterId = checkIdentifier(options.clusterId, 'cluster ID');
  if (options.nodeDays !== undefined) checkNodeDays(options.nodeDays, '--node-days');
  if (Boolean(options.key) === Boolean(options.csr)) {
    throw keywardError('INTERMEDIATE_KEY_OR_CSR', "give either the intermediate's key (--key) or its CSR (--csr)", {
      hint: 'the key when its device is here, in the ceremony; the CSR from keyward ca intermediate request when it stays online',
    });
  }
  if (options.key) checkOneCluster(directory.config(), clusterId, "use one CA directory per cluster (--dir), or sign the other cluster's CSR (--csr)");
  checkKeyUri(options.rootKey);
  if (options.key) checkKeyUri(options.key, options.generate);
  checkWithinIssuer(daysFromNow(options.days ?? INTERMEDIATE_DAYS, now), directory.root());
  return options.csr ? intermediateCsrKey(options.csr, clusterId) : undefined;
}

/**
 * A ceremony step: the root key signs a cluster's intermediate (pathLen 0, constrained to the
 * cluster) and the root's CRL, so relying parties that check CRLs can validate the intermediate.
 * With the intermediate's key present, this directory becomes that cluster's CA; with only its
 * CSR, the certificate is in the record (and `certificate`) to be carried back and installed
 * where the key is.
 */
export async function createClusterIntermediate(
  directory: CaDirectory,
  keystore: Keystore,
  options: IntermediateCreateOptions,
  run: StepRun = {},
): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.intermediate.create', run);
  const csrSpki = await checkClusterIntermediate(directory, options, recorder.now);
  const clusterId = options.clusterId;
  const config = directory.config();
  const { root, rootCertificate } = await openRoot(directory, keystore, options.rootKey, recorder);
  const intermediateKey = options.key ? await openSigningKey(keystore, options.key, options.generate, recorder, 'intermediate', options.backup) : undefined;
  const spki = intermediateKey?.spki ?? csrSpki!;
  const intermediate = await createIntermediate(root, rootCertificate, { clusterId, spki, days: options.days, urls: options.urls }, recorder.issuance);
  await recordIssued(directory, intermediate, 'intermediate', root.spki, recorder);
  await writeCrl(directory, 'root', root, rootCertificate, options.rootCrlDays ?? CRL_DAYS.root, recorder);
  if (intermediateKey) {
    await writeClusterCa(directory, intermediateKey, intermediate, recorder);
    recorder.write(directory, CA_FILES.intermediate, certificatePem(intermediate));
    recorder.saveConfig(directory, {
      ...config,
      clusterId,
      intermediateKey: intermediateKey.handle.info.uri,
      nodeDays: options.nodeDays ?? config.nodeDays,
      ...(options.urls ? { urls: options.urls } : {}),
    });
  }
  recorder.record.outputs.certificate = certificatePem(intermediate);
  return recorder.record;
}

/**
 * Puts the cluster CA certificate (what the swarm trusts) beside the root's certificate for the
 * same key. One already there for this key and subject is kept: a swarm trusts those exact bytes,
 * so the root's certificate can be issued again (after a root rotation, say) without the swarm
 * noticing. Otherwise the cluster's key self-signs one now.
 */
async function writeClusterCa(directory: CaDirectory, signer: SigningKey, intermediate: x509.X509Certificate, recorder: StepRecorder): Promise<void> {
  const current = directory.clusterCa();
  if (current && samePublicKey(current.publicKey, signer.spki) && current.subject === intermediate.subject && current.notAfter > recorder.now) return;
  const clusterCa = await createClusterCa(signer, intermediate, recorder.issuance);
  await recordIssued(directory, clusterCa, 'cluster-ca', signer.spki, recorder);
  recorder.write(directory, CA_FILES.clusterCa, certificatePem(clusterCa));
}

export interface IntermediateRequestOptions {
  key: KeyUri;
  generate?: GenerateOptions['algorithm'];
  /** `wrap`: the key made is copyable to a second token by a backup ceremony. */
  backup?: GenerateOptions['backup'];
  clusterId: string;
  nodeDays?: number;
}

/**
 * The online half of a split ceremony: the intermediate's key is made (or opened) where it will
 * work, and only its CSR goes to the offline root. The key waits in ca.json until the certificate
 * comes back (installClusterIntermediate).
 */
export function checkIntermediateRequest(directory: CaDirectory, options: IntermediateRequestOptions): void {
  const clusterId = checkIdentifier(options.clusterId, 'cluster ID');
  if (options.nodeDays !== undefined) checkNodeDays(options.nodeDays, '--node-days');
  checkOneCluster(directory.config(), clusterId, 'use one CA directory per cluster (--dir)');
  checkKeyUri(options.key, options.generate);
}

/** The CSR is the record's `outputs.csr`. */
export async function requestClusterIntermediate(
  directory: CaDirectory,
  keystore: Keystore,
  options: IntermediateRequestOptions,
  run: StepRun = {},
): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.intermediate.request', run);
  checkIntermediateRequest(directory, options);
  const config = directory.config();
  const key = await openSigningKey(keystore, options.key, options.generate, recorder, 'intermediate', options.backup);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: intermediateSubject(options.clusterId), keys: key.keys, signingAlgorithm: key.algorithm },
    key.crypto,
  );
  recorder.saveConfig(directory, {
    ...config,
    clusterId: options.clusterId,
    pendingIntermediateKey: key.handle.info.uri,
    nodeDays: options.nodeDays ?? config.nodeDays,
  });
  recorder.record.outputs.csr = csr.toString('pem');
  return recorder.record;
}

export interface IntermediateInstallOptions {
  /** The certificate the root signed for this directory's CSR, PEM or DER. */
  certificate: Uint8Array | string;
  /** The root's CA directory, carried from the same ceremony. */
  rootDirectory: CaDirectory;
}

/** The root-side files a cluster CA keeps copies of: trust anchors, rotation state, root CRLs. */
const ROOT_SIDE_FILES = [CA_FILES.roots, CA_FILES.root, CA_FILES.previousRoot, CA_FILES.crossSigned, crlFile('root'), crlFile('previous-root')];

/**
 * The online half, once the certificate is back from the ceremony: it must be for the waiting key,
 * for this cluster, constrained to it, and issued by a root of the root directory carried along
 * (whose certificates and CRLs are copied here).
 */
export function checkIntermediateInstall(
  directory: CaDirectory,
  options: IntermediateInstallOptions,
): { pendingKey: KeyUri; clusterId: string; certificate: x509.X509Certificate } {
  directory.requireCa();
  const config = directory.config();
  if (!config.pendingIntermediateKey || !config.clusterId) {
    throw keywardError('NO_PENDING_INTERMEDIATE', `${directory.dir} is not waiting for an intermediate certificate`, {
      hint: 'request one first: keyward ca intermediate request --key <uri> --cluster-id <id> --out cluster.csr',
    });
  }
  const certificate = new x509.X509Certificate(parseCertificate(options.certificate, 'intermediate certificate').raw);
  options.rootDirectory.roots();
  return { pendingKey: config.pendingIntermediateKey, clusterId: config.clusterId, certificate };
}

export async function installClusterIntermediate(
  directory: CaDirectory,
  keystore: Keystore,
  options: IntermediateInstallOptions,
  run: StepRun = {},
): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.intermediate.install', run);
  const { certificate } = checkIntermediateInstall(directory, options);
  const config = directory.config() as CaConfig & { pendingIntermediateKey: KeyUri; clusterId: string };
  const key = await SigningKey.of(await keystore.open(config.pendingIntermediateKey));
  await recorder.key('intermediate', key, false);
  if (!samePublicKey(certificate.publicKey, key.spki)) {
    throw keywardError('CA_KEY_MISMATCH', `the certificate (${certificate.subject}) is not for the waiting key ${key.handle.info.uri}`, {
      hint: "install the certificate the root signed for this directory's CSR",
    });
  }
  const expected = clusterNameConstraints(config.clusterId);
  const constraints = certificate.getExtension(expected.type);
  if (
    !constraints ||
    !Buffer.from(constraints.value).equals(Buffer.from(expected.value)) ||
    certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength !== 0
  ) {
    throw keywardError(
      'INTERMEDIATE_NOT_FOR_CLUSTER',
      `the certificate is not a cluster intermediate constrained to "${config.clusterId}" (pathLen 0, O=${config.clusterId})`,
    );
  }
  if (!options.rootDirectory.roots().some((root) => issuedByRoot(certificate, root))) {
    throw keywardError('INTERMEDIATE_UNTRUSTED', `the certificate was not issued by a root of ${options.rootDirectory.dir}`, {
      hint: "carry the root's CA directory from the same ceremony (--root-dir)",
    });
  }
  for (const file of ROOT_SIDE_FILES) {
    const content = options.rootDirectory.read(file);
    if (content) recorder.write(directory, file, content);
    else recorder.remove(directory, file);
  }
  await writeClusterCa(directory, key, certificate, recorder);
  recorder.write(directory, CA_FILES.intermediate, certificatePem(certificate));
  const { pendingIntermediateKey, ...rest } = config;
  recorder.saveConfig(directory, { ...rest, intermediateKey: pendingIntermediateKey });
  recorder.certificate('intermediate', certificate);
  return recorder.record;
}
