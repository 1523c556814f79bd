/**
 * The PIV application of the virtual YubiKey: SP 800-73-4 Part 2 card commands and Yubico's
 * extensions, answering with the status words a YubiKey 5 gives. Every handler validates its input
 * and answers with a status word; nothing a host sends can make it throw.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CommandApdu } from '../piv/apdu.js';
import { encodeCertificateObject } from '../piv/certificates.js';
import { decryptBlock, encryptBlock } from '../piv/management-key.js';
import {
  algorithmSupported,
  DEFAULT_MANAGEMENT_KEY,
  DEFAULT_PIN,
  DEFAULT_PUK,
  defaultPinPolicy,
  hasFeature,
  INS,
  isPaddedPin,
  KEY_ORIGIN,
  KEY_REFERENCE,
  MANAGEMENT_KEY_ALGORITHMS,
  managementKeyAlgorithmById,
  OBJECT,
  padPin,
  PIN_LENGTH,
  PIN_POLICY,
  PIV_AID_FULL,
  SLOTS,
  slotName,
  SW,
  TAG,
  TOUCH_POLICY,
  type FirmwareFeature,
  type Version,
} from '../piv/spec.js';
import { concat, intBytes, parseTlvs, tlv, tlvMap, TlvError } from '../piv/tlv.js';
import { issueAttestation } from './attestation-ca.js';
import {
  CardCryptoError,
  exportPrivate,
  exportPublic,
  generateCardKey,
  importCardKey,
  keyAgreement,
  loadPrivate,
  loadPublic,
  privateOperation,
  publicKeyTemplate,
  SIGNING_ALGORITHMS,
} from './keys.js';
import type { CredentialState, SlotState, VirtualYubiKeyState } from './state.js';
import type { TouchSensor } from './touch.js';

export interface Reply {
  data?: Uint8Array;
  sw: number;
}

const ok = (data?: Uint8Array): Reply => ({ data, sw: SW.SUCCESS });
const fail = (sw: number): Reply => ({ sw });

/** The largest data object a YubiKey 5 stores. */
const MAX_OBJECT_SIZE = 3052;

/** A PIN or PUK as the state file keeps it: the padded block, in hex. */
function padCredential(value: string): string {
  return Buffer.from(padPin(Buffer.from(value, 'utf8'))).toString('hex');
}

/** A command's data as one constructed template `tag`, its elements by tag; undefined when it is anything else. */
function singleTemplate(data: Uint8Array, tag: number): Map<number, Uint8Array> | undefined {
  try {
    const outer = parseTlvs(data);
    return outer.length === 1 && outer[0]!.tag === tag ? tlvMap(outer[0]!.value) : undefined;
  } catch (error) {
    if (error instanceof TlvError) return undefined;
    throw error;
  }
}

function sameBlock(a: Uint8Array, hex: string): boolean {
  const b = Buffer.from(hex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where PUT DATA may write: SP 800-73-4 containers (5FC1xx) and Yubico's (5FFFxx). */
function writableObject(id: number): boolean {
  return (id >= 0x5fc101 && id <= 0x5fc123) || (id >= 0x5fff00 && id <= 0x5fff15);
}

const DISCOVERY_OBJECT = tlv(
  OBJECT.DISCOVERY,
  tlv(TAG.APPLICATION_IDENTIFIER, PIV_AID_FULL),
  tlv(0x5f2f, Uint8Array.of(0x40, 0x00)), // PIN usage policy: PIV PIN only
);

export class PivApplet {
  readonly #state: VirtualYubiKeyState;
  readonly #touch: TouchSensor;
  readonly #persist: () => void;
  // Security status, lost on deselect and reset (SP 800-73-4 Part 2 §2.4).
  #pinVerified = false;
  /** A VERIFY right before, for PIN policy "always"; used up by the next private-key operation. */
  #pinFresh = false;
  #managementAuthenticated = false;
  #pendingWitness: Uint8Array | undefined;
  #pendingChallenge: Uint8Array | undefined;

  constructor(state: VirtualYubiKeyState, touch: TouchSensor, persist: () => void) {
    this.#state = state;
    this.#touch = touch;
    this.#persist = persist;
  }

  select(): Reply {
    // The application property template (Part 2 §3.1.1): AID and allocation authority.
    return ok(
      tlv(
        TAG.APPLICATION_PROPERTY_TEMPLATE,
        tlv(TAG.APPLICATION_IDENTIFIER, PIV_AID_FULL.subarray(5)),
        tlv(TAG.ALLOCATION_AUTHORITY, tlv(TAG.APPLICATION_IDENTIFIER, PIV_AID_FULL.subarray(0, 5))),
      ),
    );
  }

  deselect(): void {
    this.#pinVerified = false;
    this.#pinFresh = false;
    this.#managementAuthenticated = false;
    this.#pendingWitness = undefined;
    this.#pendingChallenge = undefined;
  }

  #has(feature: FirmwareFeature): boolean {
    return hasFeature(this.#state.firmware, feature);
  }

  async handle(cmd: CommandApdu): Promise<Reply> {
    switch (cmd.ins) {
      case INS.VERIFY:
        return this.#verify(cmd);
      case INS.CHANGE_REFERENCE_DATA:
        return this.#changeReference(cmd);
      case INS.RESET_RETRY_COUNTER:
        return this.#resetRetryCounter(cmd);
      case INS.GENERAL_AUTHENTICATE:
        return this.#generalAuthenticate(cmd);
      case INS.GENERATE_ASYMMETRIC_KEY_PAIR:
        return this.#generate(cmd);
      case INS.GET_DATA:
        return this.#getData(cmd);
      case INS.PUT_DATA:
        return this.#putData(cmd);
      case INS.GET_VERSION:
        return ok(Uint8Array.from(this.#state.firmware));
      case INS.GET_SERIAL:
        return this.#has('serial') ? ok(intBytes(this.#state.serial, 4)) : fail(SW.INS_NOT_SUPPORTED);
      case INS.SET_MANAGEMENT_KEY:
        return this.#setManagementKey(cmd);
      case INS.IMPORT_KEY:
        return this.#importKey(cmd);
      case INS.ATTEST:
        return this.#attest(cmd);
      case INS.GET_METADATA:
        return this.#metadata(cmd);
      case INS.SET_PIN_RETRIES:
        return this.#setPinRetries(cmd);
      case INS.RESET:
        return this.#reset(cmd);
      case INS.MOVE_KEY:
        return this.#moveKey(cmd);
      default:
        return fail(SW.INS_NOT_SUPPORTED);
    }
  }

  // -- PIN and PUK (Part 2 §3.2.1–3.2.3) -------------------------------------------------------

  #credential(p2: number): CredentialState | undefined {
    if (p2 === KEY_REFERENCE.PIN) return this.#state.pin;
    if (p2 === KEY_REFERENCE.PUK) return this.#state.puk;
    return undefined;
  }

  /** Checks a credential, counting a wrong one; returns the status word to answer on failure. */
  #check(credential: CredentialState, block: Uint8Array): number | undefined {
    if (credential.retriesLeft === 0) return SW.AUTH_METHOD_BLOCKED;
    if (!sameBlock(block, credential.value)) {
      credential.retriesLeft--;
      this.#persist();
      return SW.VERIFY_FAIL | credential.retriesLeft;
    }
    if (credential.retriesLeft !== credential.maxRetries) {
      credential.retriesLeft = credential.maxRetries;
      this.#persist();
    }
    return undefined;
  }

  #verify(cmd: CommandApdu): Reply {
    if (cmd.p2 !== KEY_REFERENCE.PIN) return fail(cmd.p2 === KEY_REFERENCE.GLOBAL_PIN ? SW.REFERENCE_NOT_FOUND : SW.INCORRECT_P1P2);
    if (cmd.p1 === 0xff) {
      // P1 FF: reset the security status of the PIN (Part 2 §3.2.1).
      if (cmd.data.length !== 0) return fail(SW.WRONG_LENGTH);
      this.#pinVerified = false;
      this.#pinFresh = false;
      return ok();
    }
    if (cmd.p1 !== 0x00) return fail(SW.INCORRECT_P1P2);
    const pin = this.#state.pin;
    if (cmd.data.length === 0) {
      if (this.#pinVerified) return ok();
      return fail(pin.retriesLeft === 0 ? SW.AUTH_METHOD_BLOCKED : SW.VERIFY_FAIL | pin.retriesLeft);
    }
    if (cmd.data.length !== PIN_LENGTH) return fail(SW.INCORRECT_DATA);
    this.#pinVerified = false;
    this.#pinFresh = false;
    const failure = this.#check(pin, cmd.data);
    if (failure !== undefined) return fail(failure);
    this.#pinVerified = true;
    this.#pinFresh = true;
    return ok();
  }

  #changeReference(cmd: CommandApdu): Reply {
    const credential = this.#credential(cmd.p2);
    if (!credential || cmd.p1 !== 0x00) return fail(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 2 * PIN_LENGTH) return fail(SW.INCORRECT_DATA);
    const failure = this.#check(credential, cmd.data.subarray(0, PIN_LENGTH));
    if (failure !== undefined) return fail(failure);
    const next = cmd.data.subarray(PIN_LENGTH);
    if (!isPaddedPin(next)) return fail(SW.INCORRECT_DATA);
    credential.value = Buffer.from(next).toString('hex');
    credential.retriesLeft = credential.maxRetries;
    this.#persist();
    return ok();
  }

  #resetRetryCounter(cmd: CommandApdu): Reply {
    if (cmd.p2 !== KEY_REFERENCE.PIN || cmd.p1 !== 0x00) return fail(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 2 * PIN_LENGTH) return fail(SW.INCORRECT_DATA);
    const failure = this.#check(this.#state.puk, cmd.data.subarray(0, PIN_LENGTH));
    if (failure !== undefined) return fail(failure);
    const next = cmd.data.subarray(PIN_LENGTH);
    if (!isPaddedPin(next)) return fail(SW.INCORRECT_DATA);
    this.#state.pin.value = Buffer.from(next).toString('hex');
    this.#state.pin.retriesLeft = this.#state.pin.maxRetries;
    this.#persist();
    return ok();
  }

  // -- GENERAL AUTHENTICATE (Part 2 §3.2.4) ----------------------------------------------------

  async #generalAuthenticate(cmd: CommandApdu): Promise<Reply> {
    const template = singleTemplate(cmd.data, TAG.DYNAMIC_AUTHENTICATION);
    if (!template) return fail(SW.INCORRECT_DATA);
    if (cmd.p2 === KEY_REFERENCE.MANAGEMENT_KEY) return this.#managementAuthentication(cmd.p1, template);
    return this.#useKey(cmd.p1, cmd.p2, template);
  }

  /** Witness (80) / challenge (81) / response (82) exchanges with the management key. */
  async #managementAuthentication(algorithm: number, template: Map<number, Uint8Array>): Promise<Reply> {
    const mk = this.#state.managementKey;
    if (algorithm !== MANAGEMENT_KEY_ALGORITHMS[mk.algorithm].id) return fail(SW.INCORRECT_P1P2);
    const key = Buffer.from(mk.key, 'hex');
    const blockLength = MANAGEMENT_KEY_ALGORITHMS[mk.algorithm].blockLength;
    const witness = template.get(TAG.WITNESS);
    const challenge = template.get(TAG.CHALLENGE);
    const response = template.get(TAG.RESPONSE);
    this.#managementAuthenticated = false;

    if (witness?.length === 0 && challenge === undefined) {
      // Step 1 of mutual authentication: the card's encrypted witness.
      this.#pendingWitness = randomBytes(blockLength);
      this.#pendingChallenge = undefined;
      return ok(tlv(TAG.DYNAMIC_AUTHENTICATION, tlv(TAG.WITNESS, encryptBlock(mk.algorithm, key, this.#pendingWitness))));
    }
    if (witness && witness.length > 0 && challenge && challenge.length === blockLength) {
      // Step 2: the host proves it decrypted the witness, and challenges the card.
      const expected = this.#pendingWitness;
      this.#pendingWitness = undefined;
      if (!expected || witness.length !== expected.length || !timingSafeEqual(witness, expected)) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
      if (mk.touch && !(await this.#touch.await('always'))) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
      this.#managementAuthenticated = true;
      return ok(tlv(TAG.DYNAMIC_AUTHENTICATION, tlv(TAG.RESPONSE, encryptBlock(mk.algorithm, key, challenge))));
    }
    if (challenge?.length === 0 && witness === undefined) {
      // Single-step (external authenticate): the card's challenge in clear.
      this.#pendingChallenge = randomBytes(blockLength);
      this.#pendingWitness = undefined;
      return ok(tlv(TAG.DYNAMIC_AUTHENTICATION, tlv(TAG.CHALLENGE, this.#pendingChallenge)));
    }
    if (response && response.length === blockLength && witness === undefined) {
      const expected = this.#pendingChallenge;
      this.#pendingChallenge = undefined;
      if (!expected || !timingSafeEqual(decryptBlock(mk.algorithm, key, response), expected)) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
      if (mk.touch && !(await this.#touch.await('always'))) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
      this.#managementAuthenticated = true;
      return ok();
    }
    return fail(SW.INCORRECT_DATA);
  }

  /** Whether the slot's PIN and touch policies are met now; consumes a fresh VERIFY for "always". */
  async #policiesMet(slot: SlotState): Promise<boolean> {
    if (slot.pinPolicy === PIN_POLICY.once && !this.#pinVerified) return false;
    if (slot.pinPolicy === PIN_POLICY.always) {
      if (!this.#pinFresh) return false;
      this.#pinFresh = false;
    }
    if (slot.touchPolicy === TOUCH_POLICY.always) return this.#touch.await('always');
    if (slot.touchPolicy === TOUCH_POLICY.cached) return this.#touch.await('cached');
    return true;
  }

  /** Signing, decryption (81 challenge) and key agreement (85 exponentiation) with a slot's key. */
  async #useKey(algorithm: number, slotId: number, template: Map<number, Uint8Array>): Promise<Reply> {
    const name = slotName(slotId);
    if (!SLOTS[name] || slotId === 0xf9) return fail(SW.INCORRECT_P1P2);
    const slot = this.#state.slots[name];
    if (!slot) return fail(SW.INCORRECT_DATA);
    if (slot.algorithm !== algorithm) return fail(SW.INCORRECT_P1P2);
    const response = template.get(TAG.RESPONSE);
    const challenge = template.get(TAG.CHALLENGE);
    const exponentiation = template.get(TAG.EXPONENTIATION);
    if (response === undefined || response.length !== 0 || (challenge === undefined) === (exponentiation === undefined)) return fail(SW.INCORRECT_DATA);
    if (challenge !== undefined && !SIGNING_ALGORITHMS.has(algorithm)) return fail(SW.INCORRECT_DATA);
    if (!(await this.#policiesMet(slot))) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    try {
      const key = loadPrivate(slot.privateKey);
      const result = challenge !== undefined ? privateOperation(algorithm, key, challenge) : keyAgreement(algorithm, key, exponentiation!);
      return ok(tlv(TAG.DYNAMIC_AUTHENTICATION, tlv(TAG.RESPONSE, result)));
    } catch (error) {
      if (error instanceof CardCryptoError) return fail(SW.INCORRECT_DATA);
      throw error;
    }
  }

  // -- keys (Part 2 §3.3.3, Yubico IMPORT, ATTEST, MOVE/DELETE) --------------------------------

  /** PIN policy "default" means the slot's own default (Yubico). */
  #policies(slotId: number, pin: number | undefined, touch: number | undefined): { pin: number; touch: number } | undefined {
    const pinPolicy = pin && pin !== PIN_POLICY.default ? pin : PIN_POLICY[defaultPinPolicy(slotId)];
    const touchPolicy = touch && touch !== TOUCH_POLICY.default ? touch : TOUCH_POLICY.never;
    if (pinPolicy > PIN_POLICY.always || touchPolicy > TOUCH_POLICY.cached) return undefined;
    return { pin: pinPolicy, touch: touchPolicy };
  }

  #keySlot(slotId: number): string | undefined {
    const name = slotName(slotId);
    return SLOTS[name] && slotId !== 0xf9 ? name : undefined;
  }

  #generate(cmd: CommandApdu): Reply {
    const name = this.#keySlot(cmd.p2);
    if (!name || cmd.p1 !== 0x00) return fail(SW.INCORRECT_P1P2);
    if (!this.#managementAuthenticated) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    const control = singleTemplate(cmd.data, TAG.CONTROL_REFERENCE);
    if (!control) return fail(SW.INCORRECT_DATA);
    const algorithm = control.get(TAG.GENERATE_ALGORITHM);
    if (algorithm?.length !== 1 || !algorithmSupported(algorithm[0]!, this.#state.firmware)) return fail(SW.INCORRECT_DATA);
    const policies = this.#policies(cmd.p2, control.get(TAG.PIN_POLICY)?.[0], control.get(TAG.TOUCH_POLICY)?.[0]);
    if (!policies) return fail(SW.INCORRECT_DATA);
    const key = generateCardKey(algorithm[0]!);
    this.#state.slots[name] = {
      algorithm: algorithm[0]!,
      pinPolicy: policies.pin,
      touchPolicy: policies.touch,
      origin: KEY_ORIGIN.generated,
      privateKey: exportPrivate(key.privateKey),
      publicKey: exportPublic(key.publicKey),
    };
    this.#persist();
    return ok(tlv(TAG.PUBLIC_KEY, publicKeyTemplate(key.publicKey)));
  }

  #importKey(cmd: CommandApdu): Reply {
    const name = this.#keySlot(cmd.p2);
    if (!name) return fail(SW.INCORRECT_P1P2);
    if (!this.#managementAuthenticated) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (!algorithmSupported(cmd.p1, this.#state.firmware)) return fail(SW.INCORRECT_P1P2);
    let components: Map<number, Uint8Array>;
    try {
      components = tlvMap(cmd.data);
    } catch (error) {
      if (error instanceof TlvError) return fail(SW.INCORRECT_DATA);
      throw error;
    }
    const policies = this.#policies(cmd.p2, components.get(TAG.PIN_POLICY)?.[0], components.get(TAG.TOUCH_POLICY)?.[0]);
    if (!policies) return fail(SW.INCORRECT_DATA);
    let key;
    try {
      key = importCardKey(cmd.p1, components);
    } catch {
      return fail(SW.INCORRECT_DATA);
    }
    this.#state.slots[name] = {
      algorithm: cmd.p1,
      pinPolicy: policies.pin,
      touchPolicy: policies.touch,
      origin: KEY_ORIGIN.imported,
      privateKey: exportPrivate(key.privateKey),
      publicKey: exportPublic(key.publicKey),
    };
    this.#persist();
    return ok();
  }

  async #attest(cmd: CommandApdu): Promise<Reply> {
    const name = this.#keySlot(cmd.p1);
    if (!name || cmd.p2 !== 0x00) return fail(SW.INCORRECT_P1P2);
    const slot = this.#state.slots[name];
    if (!slot) return fail(SW.REFERENCE_NOT_FOUND);
    // Only keys made on the card can be attested: an imported key proves nothing.
    if (slot.origin !== KEY_ORIGIN.generated) return fail(SW.INCORRECT_DATA);
    const certificate = await issueAttestation(this.#state.attestation, {
      slot: cmd.p1,
      publicKey: loadPublic(slot.publicKey),
      firmware: this.#state.firmware,
      serial: this.#state.serial,
      pinPolicy: slot.pinPolicy,
      touchPolicy: slot.touchPolicy,
      formFactor: this.#state.formFactor,
    });
    return ok(certificate);
  }

  #moveKey(cmd: CommandApdu): Reply {
    if (!this.#has('moveKey')) return fail(SW.INS_NOT_SUPPORTED);
    const from = this.#keySlot(cmd.p2);
    if (!from) return fail(SW.INCORRECT_P1P2);
    if (!this.#managementAuthenticated) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    const key = this.#state.slots[from];
    if (!key) return fail(SW.REFERENCE_NOT_FOUND);
    if (cmd.p1 === 0xff) {
      delete this.#state.slots[from];
    } else {
      const to = this.#keySlot(cmd.p1);
      if (!to || this.#state.slots[to]) return fail(SW.INCORRECT_P1P2);
      this.#state.slots[to] = key;
      delete this.#state.slots[from];
    }
    this.#persist();
    return ok();
  }

  // -- data objects (Part 2 §3.1.2, §3.3.2) -----------------------------------------------------

  #objectId(data: Uint8Array): number | undefined {
    try {
      const [first, ...rest] = parseTlvs(data);
      if (!first || first.tag !== TAG.OBJECT_ID || first.value.length === 0 || first.value.length > 3) return undefined;
      if (rest.length > 1 || (rest.length === 1 && rest[0]!.tag !== TAG.OBJECT_DATA)) return undefined;
      return first.value.reduce((n, b) => (n << 8) | b, 0);
    } catch {
      return undefined;
    }
  }

  #getData(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0x3f || cmd.p2 !== 0xff) return fail(SW.INCORRECT_P1P2);
    const id = this.#objectId(cmd.data);
    if (id === undefined || cmd.data.length !== 2 + (id === OBJECT.DISCOVERY ? 1 : 3)) return fail(SW.INCORRECT_DATA);
    if (id === OBJECT.DISCOVERY) return ok(DISCOVERY_OBJECT);
    // Printed information and biometrics are readable only after the PIN (Part 1 Table 2).
    if ([0x5fc109, 0x5fc103, 0x5fc108, 0x5fc121].includes(id) && !this.#pinVerified) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (id === OBJECT.ATTESTATION_CERTIFICATE) {
      // Slot F9's certificate, stored like every other certificate object (70 / 71 / FE).
      return ok(tlv(TAG.OBJECT_DATA, encodeCertificateObject(Buffer.from(this.#state.attestation.deviceCertificate, 'base64'))));
    }
    const value = this.#state.objects[id.toString(16)];
    if (value === undefined) return fail(SW.FILE_NOT_FOUND);
    return ok(tlv(TAG.OBJECT_DATA, Buffer.from(value, 'hex')));
  }

  #putData(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0x3f || cmd.p2 !== 0xff) return fail(SW.INCORRECT_P1P2);
    if (!this.#managementAuthenticated) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    let parts: ReturnType<typeof parseTlvs>;
    try {
      parts = parseTlvs(cmd.data);
    } catch {
      return fail(SW.INCORRECT_DATA);
    }
    const [idTlv, valueTlv] = parts;
    if (parts.length !== 2 || idTlv!.tag !== TAG.OBJECT_ID || valueTlv!.tag !== TAG.OBJECT_DATA || idTlv!.value.length !== 3) return fail(SW.INCORRECT_DATA);
    const id = idTlv!.value.reduce((n, b) => (n << 8) | b, 0);
    if (!writableObject(id) || id === OBJECT.ATTESTATION_CERTIFICATE) return fail(SW.INCORRECT_DATA);
    if (valueTlv!.value.length > MAX_OBJECT_SIZE) return fail(SW.NOT_ENOUGH_MEMORY);
    if (valueTlv!.value.length === 0) delete this.#state.objects[id.toString(16)];
    else this.#state.objects[id.toString(16)] = Buffer.from(valueTlv!.value).toString('hex');
    this.#persist();
    return ok();
  }

  // -- Yubico management (SET MANAGEMENT KEY, METADATA, SET PIN RETRIES, RESET) ----------------

  #setManagementKey(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0xff || (cmd.p2 !== 0xff && cmd.p2 !== 0xfe)) return fail(SW.INCORRECT_P1P2);
    if (!this.#managementAuthenticated) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    const algorithm = managementKeyAlgorithmById(cmd.data[0] ?? -1);
    if (!algorithm || (algorithm !== 'tdes' && !this.#has('aesManagementKey'))) return fail(SW.INCORRECT_DATA);
    let key: Uint8Array | undefined;
    try {
      const [entry, ...rest] = parseTlvs(cmd.data.subarray(1));
      key = rest.length === 0 && entry?.tag === KEY_REFERENCE.MANAGEMENT_KEY ? entry.value : undefined;
    } catch {
      key = undefined;
    }
    if (!key || key.length !== MANAGEMENT_KEY_ALGORITHMS[algorithm].keyLength) return fail(SW.INCORRECT_DATA);
    this.#state.managementKey = { algorithm, key: Buffer.from(key).toString('hex'), touch: cmd.p2 === 0xfe };
    this.#persist();
    return ok();
  }

  #metadata(cmd: CommandApdu): Reply {
    if (!this.#has('metadata')) return fail(SW.INS_NOT_SUPPORTED);
    if (cmd.p1 !== 0x00) return fail(SW.INCORRECT_P1P2);
    const yes = (flag: boolean) => Uint8Array.of(flag ? 1 : 0);
    if (cmd.p2 === KEY_REFERENCE.PIN || cmd.p2 === KEY_REFERENCE.PUK) {
      const credential = this.#credential(cmd.p2)!;
      const factory = padCredential(cmd.p2 === KEY_REFERENCE.PIN ? DEFAULT_PIN : DEFAULT_PUK);
      return ok(
        concat(
          tlv(TAG.METADATA_POLICY, Uint8Array.of(0, 0)),
          tlv(TAG.METADATA_IS_DEFAULT, yes(credential.value === factory)),
          tlv(TAG.METADATA_RETRIES, Uint8Array.of(credential.maxRetries, credential.retriesLeft)),
        ),
      );
    }
    if (cmd.p2 === KEY_REFERENCE.MANAGEMENT_KEY) {
      const mk = this.#state.managementKey;
      return ok(
        concat(
          tlv(TAG.METADATA_ALGORITHM, Uint8Array.of(MANAGEMENT_KEY_ALGORITHMS[mk.algorithm].id)),
          tlv(TAG.METADATA_POLICY, Uint8Array.of(PIN_POLICY.never, mk.touch ? TOUCH_POLICY.always : TOUCH_POLICY.never)),
          tlv(TAG.METADATA_IS_DEFAULT, yes(mk.key === Buffer.from(DEFAULT_MANAGEMENT_KEY).toString('hex'))),
        ),
      );
    }
    const name = this.#keySlot(cmd.p2);
    if (!name) return fail(SW.INCORRECT_P1P2);
    const slot = this.#state.slots[name];
    if (!slot) return fail(SW.REFERENCE_NOT_FOUND);
    return ok(
      concat(
        tlv(TAG.METADATA_ALGORITHM, Uint8Array.of(slot.algorithm)),
        tlv(TAG.METADATA_POLICY, Uint8Array.of(slot.pinPolicy, slot.touchPolicy)),
        tlv(TAG.METADATA_ORIGIN, Uint8Array.of(slot.origin)),
        tlv(TAG.METADATA_PUBLIC_KEY, publicKeyTemplate(loadPublic(slot.publicKey))),
      ),
    );
  }

  #setPinRetries(cmd: CommandApdu): Reply {
    if (!this.#managementAuthenticated || !this.#pinVerified) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (cmd.p1 < 1 || cmd.p2 < 1) return fail(SW.INCORRECT_P1P2);
    this.#state.pin = { value: padCredential(DEFAULT_PIN), retriesLeft: cmd.p1, maxRetries: cmd.p1 };
    this.#state.puk = { value: padCredential(DEFAULT_PUK), retriesLeft: cmd.p2, maxRetries: cmd.p2 };
    this.#pinVerified = false;
    this.#pinFresh = false;
    this.#persist();
    return ok();
  }

  #reset(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) return fail(SW.INCORRECT_P1P2);
    // Only with PIN and PUK both blocked: a reset must not be a way around the PIN.
    if (this.#state.pin.retriesLeft !== 0 || this.#state.puk.retriesLeft !== 0) return fail(SW.CONDITIONS_NOT_SATISFIED);
    Object.assign(this.#state, factoryCredentials(this.#state.firmware));
    this.#state.slots = {};
    this.#state.objects = {};
    this.deselect();
    this.#persist();
    return ok();
  }
}

/** PIN, PUK and management key as they leave the factory: AES-192 from firmware 5.7, 3DES before. */
export function factoryCredentials(firmware: Version): Pick<VirtualYubiKeyState, 'pin' | 'puk' | 'managementKey'> {
  return {
    pin: { value: padCredential(DEFAULT_PIN), retriesLeft: 3, maxRetries: 3 },
    puk: { value: padCredential(DEFAULT_PUK), retriesLeft: 3, maxRetries: 3 },
    managementKey: {
      algorithm: hasFeature(firmware, 'aesDefaultManagementKey') ? 'aes192' : 'tdes',
      key: Buffer.from(DEFAULT_MANAGEMENT_KEY).toString('hex'),
      touch: false,
    },
  };
}
