/** A key in a YubiKey PIV slot as a KeyHandle, and what its attestation is verified against. */
import { readFileSync } from 'node:fs';
import { ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { ecdsaDerToRaw } from '../../crypto/signature-encoding.js';
import { fileProblem, keywardError } from '../../errors.js';
import type { AttestationTrust } from '../../hsm/piv/attestation.js';
import type { PivSession, SlotInfo } from '../../hsm/piv/session.js';
import { parseCertificate } from '../../x509/certificate.js';
import { pemBlocks } from '../../x509/pem.js';
import { certificateSpki, samePublicKey } from '../../x509/public-key.js';
import type { Attestation, BackendContext, KeyHandle, KeyInfo, SignOptions } from '../backend.js';
import type { YubiKeySettings } from './resolve.js';

type AttestationSettings = Pick<YubiKeySettings, 'attestationRoots' | 'attestationIntermediates'>;

export class YubiKeyHandle implements KeyHandle {
  readonly info: KeyInfo;
  readonly #session: PivSession;
  readonly #slot: number;
  readonly #slotInfo: SlotInfo | undefined;
  readonly #ctx: BackendContext;
  readonly #settings: AttestationSettings;

  constructor(session: PivSession, slot: number, slotInfo: SlotInfo | undefined, info: KeyInfo, context: BackendContext, settings: AttestationSettings) {
    this.#session = session;
    this.#slot = slot;
    this.#slotInfo = slotInfo;
    this.info = info;
    this.#ctx = context;
    this.#settings = settings;
  }

  #algorithm(): KeyAlgorithm {
    if (!this.info.algorithm) {
      throw keywardError('KEY_TYPE_UNKNOWN', `the key type in ${this.info.uri} is unknown: firmware before 5.3 reports it only through a stored certificate`, {
        hint: "store the key's certificate in the slot (keyward cert import)",
      });
    }
    return this.info.algorithm;
  }

  async publicKey(): Promise<Uint8Array> {
    if (this.#slotInfo?.publicKey) return this.#slotInfo.publicKey;
    const certificate = await this.certificate();
    if (certificate) return certificateSpki(certificate);
    throw keywardError('PUBLIC_KEY_UNAVAILABLE', `${this.info.device} does not report the public key of slot ${this.#slot.toString(16)}`, {
      hint: 'firmware before 5.3 has no metadata: keep the public key from generation, or store a certificate in the slot',
    });
  }

  async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const algorithm = this.#algorithm();
    const info = ALGORITHMS[algorithm];
    if (options.padding && info.family !== 'rsa')
      throw keywardError('PADDING_INVALID', `padding applies to RSA keys; slot ${this.#slot.toString(16)} holds ${info.title}`);
    const signature = await this.#session.sign(
      this.#slot,
      algorithm,
      data,
      { hash: options.hash ?? info.defaultHash, padding: options.padding, saltLength: options.saltLength },
      this.#slotInfo,
    );
    return info.family === 'ec' && options.format === 'raw' ? ecdsaDerToRaw(signature, info.fieldBytes) : signature;
  }

  certificate(): Promise<Uint8Array | undefined> {
    return this.#session.getCertificate(this.#slot);
  }

  async setCertificate(der: Uint8Array): Promise<void> {
    const certificate = parseCertificate(der);
    if (this.#slotInfo?.publicKey && !samePublicKey(certificate.publicKey, this.#slotInfo.publicKey)) {
      throw keywardError(
        'CERTIFICATE_KEY_MISMATCH',
        `the certificate (${certificate.subject}) is for another key than the one in slot ${this.#slot.toString(16)}`,
      );
    }
    await this.#session.putCertificate(this.#slot, der);
  }

  async attest(): Promise<Attestation> {
    // Loaded here: its X.509 decoding is a start-up cost that only attestation should pay.
    const { verifyAttestation } = await import('../../hsm/piv/attestation.js');
    const { attestation, deviceCertificate } = await this.#session.attest(this.#slot);
    const verified = verifyAttestation({
      attestation,
      deviceCertificate,
      trust: await attestationTrust(this.#ctx, this.#settings),
      expectedPublicKey: await this.publicKey(),
    });
    return {
      chain: verified.chain.slice(0, -1),
      claims: { ...verified.claims, slot: this.#slot.toString(16), root: verified.root, device: verified.device, path: verified.path },
    };
  }
}

/**
 * What attestation trusts: Yubico's roots and intermediates, plus the roots and intermediates the
 * user gave (options, and the bundle files in KEYWARD_ATTESTATION_ROOTS). Read, and the X.509
 * code it needs loaded, only when a key is attested.
 */
async function attestationTrust(ctx: BackendContext, settings: AttestationSettings): Promise<AttestationTrust> {
  const { trustFromBundle } = await import('../../hsm/piv/attestation.js');
  const { yubicoAttestationTrust } = await import('../../hsm/piv/yubico-roots.js');
  const trust = yubicoAttestationTrust();
  trust.roots.push(...settings.attestationRoots);
  trust.intermediates.push(...settings.attestationIntermediates);
  for (const file of (ctx.env.KEYWARD_ATTESTATION_ROOTS ?? '').split(':').filter(Boolean)) {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch (cause) {
      throw keywardError(
        'ATTESTATION_ROOTS_UNREADABLE',
        `cannot read attestation roots from ${file} (named in KEYWARD_ATTESTATION_ROOTS): ${fileProblem(cause)}`,
        { cause },
      );
    }
    const fromFile = trustFromBundle(pemBlocks(text, 'CERTIFICATE'));
    trust.roots.push(...fromFile.roots);
    trust.intermediates.push(...fromFile.intermediates);
  }
  return trust;
}
