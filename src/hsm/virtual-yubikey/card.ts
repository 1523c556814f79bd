/**
 * The virtual YubiKey: a card that answers APDUs as a YubiKey 5 does. It parses any command
 * (short or extended), handles command chaining and GET RESPONSE, and dispatches to the selected
 * application: PIV, Yubico's management application (device info for ykman) and the OTP
 * application (which yubico-piv-tool probes). Whatever arrives, it answers with a well-formed
 * status word.
 */
import { randomInt } from 'node:crypto';
import { ApduFormatError, encodeResponse, parseCommand, type CommandApdu } from '../piv/apdu.js';
import { CLA_CHAINING, formatVersion, INS, PIV_AID, SW, YUBICO_MANAGEMENT_AID, YUBICO_OTP_AID, YUBIKEY_5_ATR } from '../piv/spec.js';
import { concat, encodeLength, intBytes, tlv } from '../piv/tlv.js';
import type { SmartCard } from '../piv/transport/transport.js';
import { createAttestationCa } from './attestation-ca.js';
import { attestationShape, FIRMWARE_PROFILES, type FirmwareProfile } from './firmware.js';
import { factoryCredentials, PivApplet, type Reply } from './piv-applet.js';
import { loadState, saveState, type VirtualYubiKeyState } from './state.js';
import { TouchSensor, type TouchMode } from './touch.js';

interface Applet {
  readonly aid: Uint8Array;
  /** Whether a SELECT by this (possibly partial or longer) AID picks this application. */
  matches(aid: Uint8Array): boolean;
  select(): Reply;
  deselect(): void;
  handle(cmd: CommandApdu): Promise<Reply>;
}

const startsWith = (data: Uint8Array, prefix: Uint8Array) => data.length >= prefix.length && prefix.every((b, i) => data[i] === b);

/** Capabilities bits of Yubico's device info: only PIV is emulated. */
const CAPABILITY_PIV = 0x10;

/** One of Yubico's applications beside PIV: selected by its AID, answering from the card's state. */
abstract class YubicoApplet implements Applet {
  abstract readonly aid: Uint8Array;
  protected readonly state: VirtualYubiKeyState;
  constructor(state: VirtualYubiKeyState) {
    this.state = state;
  }
  matches(aid: Uint8Array): boolean {
    return startsWith(aid, this.aid);
  }
  deselect(): void {}
  abstract select(): Reply;
  abstract handle(cmd: CommandApdu): Promise<Reply>;
}

/** Yubico's management application: its SELECT answers the firmware version; READ CONFIG the device info. */
class ManagementApplet extends YubicoApplet {
  readonly aid = YUBICO_MANAGEMENT_AID;
  select(): Reply {
    return { data: Buffer.from(formatVersion(this.state.firmware), 'ascii'), sw: SW.SUCCESS };
  }
  async handle(cmd: CommandApdu): Promise<Reply> {
    if (cmd.ins !== 0x1d) return { sw: SW.INS_NOT_SUPPORTED };
    const info = concat(
      tlv(0x01, intBytes(CAPABILITY_PIV, 2)), // USB supported
      tlv(0x02, intBytes(this.state.serial, 4)),
      tlv(0x03, intBytes(CAPABILITY_PIV, 2)), // USB enabled
      tlv(0x04, Uint8Array.of(this.state.formFactor)),
      tlv(0x05, Uint8Array.from(this.state.firmware)),
      tlv(0x06, intBytes(0, 2)), // auto-eject timeout
      tlv(0x07, Uint8Array.of(15)), // challenge-response timeout
      tlv(0x08, Uint8Array.of(0)), // device flags
      tlv(0x0a, Uint8Array.of(0)), // configuration not locked
    );
    return { data: concat(Uint8Array.from(encodeLength(info.length)), info), sw: SW.SUCCESS };
  }
}

/** Yubico's OTP application, as far as PIV tools touch it: SELECT (status) and the serial. */
class OtpApplet extends YubicoApplet {
  readonly aid = YUBICO_OTP_AID;
  select(): Reply {
    return { data: concat(Uint8Array.from(this.state.firmware), Uint8Array.of(0, 0, 0)), sw: SW.SUCCESS };
  }
  async handle(cmd: CommandApdu): Promise<Reply> {
    if (cmd.ins === 0x01 && cmd.p1 === 0x10) return { data: intBytes(this.state.serial, 4), sw: SW.SUCCESS };
    return { sw: SW.INS_NOT_SUPPORTED };
  }
}

class PivApplication implements Applet {
  readonly aid = PIV_AID;
  readonly applet: PivApplet;
  constructor(applet: PivApplet) {
    this.applet = applet;
  }
  /** PIV is selected by its AID prefix; OpenSC sends the full PIX, others only A0 00 00 03 08. */
  matches(aid: Uint8Array): boolean {
    return startsWith(aid, this.aid);
  }
  select(): Reply {
    return this.applet.select();
  }
  deselect(): void {
    this.applet.deselect();
  }
  handle(cmd: CommandApdu): Promise<Reply> {
    return this.applet.handle(cmd);
  }
}

export interface CreateOptions {
  serial?: number;
  firmware?: FirmwareProfile | [number, number, number];
  /** Form factor code (Yubico): 1 = USB-A keychain, 3 = USB-C keychain … */
  formFactor?: number;
  /** Where to keep the state; without it the card lives in memory only. */
  statePath?: string;
}

export interface RuntimeOptions {
  touch?: TouchMode;
  touchTimeoutMs?: number;
  /** Called with every command and response (for logs and APDU counts). */
  onApdu?: (command: Uint8Array, response: Uint8Array) => void;
}

/** Longest command chain accepted (bytes), like a card's buffer. */
const MAX_CHAIN_BYTES = 16 * 1024;

export class VirtualYubiKey implements SmartCard {
  readonly atr = YUBIKEY_5_ATR;
  readonly touch: TouchSensor;
  readonly #state: VirtualYubiKeyState;
  readonly #statePath: string | undefined;
  readonly #applets: Applet[];
  readonly #onApdu: RuntimeOptions['onApdu'];
  #selected: Applet | undefined;
  #chain: { ins: number; p1: number; p2: number; parts: Uint8Array[]; size: number } | undefined;
  #pending: Uint8Array | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(state: VirtualYubiKeyState, statePath: string | undefined, options: RuntimeOptions) {
    this.#state = state;
    this.#statePath = statePath;
    this.touch = new TouchSensor(options.touch, options.touchTimeoutMs);
    this.#onApdu = options.onApdu;
    const persist = () => {
      if (this.#statePath) saveState(this.#statePath, this.#state);
    };
    this.#applets = [new PivApplication(new PivApplet(state, this.touch, persist)), new ManagementApplet(state), new OtpApplet(state)];
  }

  /** A factory-fresh YubiKey 5 with its own attestation CA. */
  static async create(options: CreateOptions = {}, runtime: RuntimeOptions = {}): Promise<VirtualYubiKey> {
    const firmware: [number, number, number] = [
      ...(typeof options.firmware === 'string' ? FIRMWARE_PROFILES[options.firmware] : (options.firmware ?? FIRMWARE_PROFILES['5.7.1'])),
    ];
    const serial = options.serial ?? randomInt(10_000_000, 40_000_000);
    const state: VirtualYubiKeyState = {
      format: 1,
      serial,
      firmware,
      formFactor: options.formFactor ?? 0x01,
      ...factoryCredentials(firmware),
      slots: {},
      objects: {},
      attestation: await createAttestationCa(serial, attestationShape(firmware)),
    };
    if (options.statePath) saveState(options.statePath, state);
    return new VirtualYubiKey(state, options.statePath, runtime);
  }

  static load(statePath: string, runtime: RuntimeOptions = {}): VirtualYubiKey {
    return new VirtualYubiKey(loadState(statePath), statePath, runtime);
  }

  get serial(): number {
    return this.#state.serial;
  }

  get firmware(): readonly [number, number, number] {
    return this.#state.firmware;
  }

  /** The root its attestations chain to (DER): what a verifier must trust to accept this device. */
  get attestationRoot(): Uint8Array {
    return Buffer.from(this.#state.attestation.rootCertificate, 'base64');
  }

  /** The intermediates between its F9 certificate and that root (DER, F9's issuer first); none before 5.7.4. */
  get attestationIntermediates(): Uint8Array[] {
    return (this.#state.attestation.intermediates ?? []).map((c) => Buffer.from(c, 'base64'));
  }

  process(apdu: Uint8Array): Promise<Uint8Array> {
    const result = this.#queue.then(() => this.#process(apdu));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  reset(): void {
    this.#selected?.deselect();
    this.#selected = undefined;
    this.#chain = undefined;
    this.#pending = undefined;
  }

  async #process(apdu: Uint8Array): Promise<Uint8Array> {
    let response: Uint8Array;
    try {
      response = await this.#dispatch(apdu);
    } catch (error) {
      // A bug must not take the card down: answer "no precise diagnosis", as a card would.
      process.emitWarning(`virtual YubiKey: internal error on ${Buffer.from(apdu.subarray(0, 4)).toString('hex')}: ${(error as Error).message}`);
      this.#chain = undefined;
      this.#pending = undefined;
      response = encodeResponse(new Uint8Array(), SW.NO_PRECISE_DIAGNOSIS);
    }
    this.#onApdu?.(apdu, response);
    return response;
  }

  async #dispatch(apdu: Uint8Array): Promise<Uint8Array> {
    let cmd: CommandApdu;
    try {
      cmd = parseCommand(apdu);
    } catch (error) {
      if (error instanceof ApduFormatError) return encodeResponse(new Uint8Array(), SW.WRONG_LENGTH);
      throw error;
    }
    if ((cmd.cla & ~CLA_CHAINING) !== 0x00) return this.#reply(cmd, { sw: SW.CLA_NOT_SUPPORTED });

    if (cmd.ins === INS.GET_RESPONSE) return this.#getResponse(cmd);
    this.#pending = undefined;

    // Command chaining (ISO 7816-4 §5.1.1.1): collect blocks until one without the chaining bit.
    if (cmd.cla & CLA_CHAINING) {
      if (!this.#chain || this.#chain.ins !== cmd.ins || this.#chain.p1 !== cmd.p1 || this.#chain.p2 !== cmd.p2) {
        this.#chain = { ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, parts: [], size: 0 };
      }
      this.#chain.parts.push(cmd.data);
      this.#chain.size += cmd.data.length;
      if (this.#chain.size > MAX_CHAIN_BYTES) {
        this.#chain = undefined;
        return encodeResponse(new Uint8Array(), SW.NOT_ENOUGH_MEMORY);
      }
      return encodeResponse(new Uint8Array(), SW.SUCCESS);
    }
    if (this.#chain) {
      const chain = this.#chain;
      this.#chain = undefined;
      if (chain.ins === cmd.ins && chain.p1 === cmd.p1 && chain.p2 === cmd.p2) {
        cmd = { ...cmd, data: concat(...chain.parts, cmd.data) };
      }
    }

    if (cmd.ins === INS.SELECT) return this.#reply(cmd, this.#select(cmd));
    if (!this.#selected) return this.#reply(cmd, { sw: SW.INS_NOT_SUPPORTED });
    return this.#reply(cmd, await this.#selected.handle(cmd));
  }

  #select(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0x04) return { sw: SW.INCORRECT_P1P2 };
    const applet = this.#applets.find((a) => a.matches(cmd.data));
    if (!applet || cmd.data.length < 5) return { sw: SW.FILE_NOT_FOUND };
    // Selecting another application ends this one's security status; re-selecting keeps it.
    if (this.#selected !== applet) this.#selected?.deselect();
    this.#selected = applet;
    return applet.select();
  }

  /** Sends what fits; the rest waits for GET RESPONSE (61xx). */
  #reply(cmd: CommandApdu, reply: Reply): Uint8Array {
    const data = reply.data ?? new Uint8Array();
    const limit = cmd.extended && cmd.ne > 256 ? cmd.ne : 256;
    if (reply.sw !== SW.SUCCESS || data.length <= limit) return encodeResponse(data, reply.sw);
    this.#pending = data.subarray(limit);
    return encodeResponse(data.subarray(0, limit), SW.BYTES_REMAINING | (Math.min(this.#pending.length, 256) % 256));
  }

  #getResponse(cmd: CommandApdu): Uint8Array {
    if (!this.#pending) return encodeResponse(new Uint8Array(), SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) return encodeResponse(new Uint8Array(), SW.INCORRECT_P1P2);
    const data = this.#pending;
    this.#pending = undefined;
    return this.#reply(cmd, { data, sw: SW.SUCCESS });
  }
}
