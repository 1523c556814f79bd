/**
 * A device's user PIN, from a source meant for that device. In order: the URI's pin-source or
 * pin-value; the device's own variable, KEYWARD_PIN_TOKEN_<serial> (a PKCS#11 token) or
 * KEYWARD_PIN_YUBIKEY_<serial> (a YubiKey's PIV PIN), named for the device Keyward found, whatever
 * the URI said; KEYWARD_PIN; a prompt naming the device.
 *
 * A variable's PIN goes to one device per keystore (per command, in the CLI). KEYWARD_PIN says
 * nothing of which device it is for: handed to a second device it is a guess, and a wrong guess
 * spends a try on a device that may have three. So a second device is not given it unasked: a
 * person is asked whether to try it there too, and with nobody to ask the command stops before
 * any try is spent (PIN_AMBIGUOUS), naming the variables that would settle it.
 *
 * A token's SO PIN (a key copy's source token) comes the same way, from its own variables:
 * `--so-pin-source`, KEYWARD_SO_PIN_TOKEN_<serial>, KEYWARD_SO_PIN (one token per command), a prompt.
 */
import { keywardError } from '../errors.js';
import { Secret } from '../secret.js';
import type { Interaction } from './interaction.js';
import { askPin, pinFromUri } from './pin.js';

/** The PIN for any one device that has no variable of its own. */
export const SHARED_PIN_VARIABLE = 'KEYWARD_PIN';

export type PinDeviceKind = 'token' | 'yubikey';

/** A device that wants a user PIN, as the keystore found it. */
export interface PinDevice {
  /** `token`: a PKCS#11 token (`pkcs11:` URIs); `yubikey`: a YubiKey's PIV application (`yubikey:` URIs). */
  kind: PinDeviceKind;
  /** The serial the device reports; undefined when it reports none (it then has no variable of its own). */
  serial: string | undefined;
  /** Tells devices apart within one keystore, also those without a serial (module and label, reader). */
  id: string;
  /** How prompts and errors name it: `token "ca" (serial 9f3c…)`, `YubiKey 12345678 (firmware 5.7.1)`. */
  name: string;
}

/**
 * The variable holding one device's own PIN: `KEYWARD_PIN_TOKEN_<serial>` or
 * `KEYWARD_PIN_YUBIKEY_<serial>`. In the serial, ASCII letters and digits stay as they are (case
 * kept) and every other byte of its UTF-8 becomes `_` and two upper-case hex digits, so no two
 * serials share a name and every name is a valid shell variable: `A1-b2` → `A1_2Db2`.
 */
export function devicePinVariable(kind: PinDeviceKind, serial: string | undefined): string | undefined {
  if (serial === undefined || serial === '') return undefined;
  let name = '';
  for (const byte of Buffer.from(serial, 'utf8')) {
    const isAlphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    name += isAlphanumeric ? String.fromCharCode(byte) : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${SHARED_PIN_VARIABLE}_${kind.toUpperCase()}_${name}`;
}

/** The SO PIN of any one token, when it has no variable of its own (as `keyward token init` and `unblock` read it). */
export const SHARED_SO_PIN_VARIABLE = 'KEYWARD_SO_PIN';

/**
 * The variable holding one token's own SO PIN, for what needs its Security Officer in a run that
 * also uses other tokens (a key backup): `KEYWARD_SO_PIN_TOKEN_<serial>`, the serial written as
 * in `devicePinVariable`.
 */
export function tokenSoPinVariable(serial: string | undefined): string | undefined {
  return devicePinVariable('token', serial)?.replace(`${SHARED_PIN_VARIABLE}_`, `${SHARED_SO_PIN_VARIABLE}_`);
}

/** Which of a device's PINs: its user's (any device), or its Security Officer's (a PKCS#11 token). */
export type PinRole = 'user' | 'so';

/** Where each PIN comes from besides the shared variable, as hints name it: the device's own variable, and a file. */
interface RoleSources {
  own(device: PinDevice): string | undefined;
  /** Matches any device's own variable. */
  ownPattern: RegExp;
  shared: string;
  /** How to give a file instead, for a person who has nobody to ask (`or …`). */
  file: string;
  /** How to give `device` its own PIN when it has no variable of its own. */
  fileFor(device: PinDevice): string;
  /** Where a person sees the devices' variables. */
  listed: string;
}

const ROLES: Record<PinRole, RoleSources> = {
  user: {
    own: (device) => devicePinVariable(device.kind, device.serial),
    ownPattern: /^KEYWARD_PIN_(TOKEN|YUBIKEY)_/,
    shared: SHARED_PIN_VARIABLE,
    file: 'put it in a file and add ?pin-source=file:/path/to/file to the URI',
    fileFor: (device) => `add ?pin-source=file:… to the URI of ${device.name}`,
    listed: "keyward token list, yubikey list show each device's variable",
  },
  so: {
    own: (device) => tokenSoPinVariable(device.serial),
    ownPattern: /^KEYWARD_SO_PIN_TOKEN_/,
    shared: SHARED_SO_PIN_VARIABLE,
    file: 'give its file (--so-pin-source file:…)',
    fileFor: (device) => `give the SO PIN of ${device.name} in a file (--so-pin-source file:…)`,
    listed: "keyward token list shows each token's serial, which its variable is named for",
  },
};

/** A PIN in the environment for a device: which variable, and the devices it already went to in this keystore. */
interface EnvPin {
  variable: string;
  value: string;
  givenTo: PinDevice[];
}

export class DevicePins {
  readonly #interaction: Interaction;
  readonly #env: NodeJS.ProcessEnv;
  /** Variable → the devices its PIN went to, the first by right, any other because a person said so. */
  readonly #given = new Map<string, PinDevice[]>();

  constructor(interaction: Interaction, env: NodeJS.ProcessEnv) {
    this.#interaction = interaction;
    this.#env = env;
  }

  /** The environment's PIN for `device`: its own variable, else the shared one (KEYWARD_PIN, KEYWARD_SO_PIN). */
  #fromEnv(device: PinDevice, role: PinRole): EnvPin | undefined {
    for (const variable of [ROLES[role].own(device), ROLES[role].shared]) {
      const value = variable && this.#env[variable];
      if (variable && value) return { variable, value, givenTo: this.#given.get(variable) ?? [] };
    }
    return undefined;
  }

  /** Whether the environment's PIN went to another device and not to this one. */
  static #elsewhere(pin: EnvPin, device: PinDevice): boolean {
    return pin.givenTo.length > 0 && !pin.givenTo.some((d) => d.id === device.id);
  }

  /** Whether `device`'s PIN can be had without asking anyone. */
  atHand(uri: { pinSource?: string; pinValue?: Secret }, device: PinDevice): boolean {
    if (uri.pinSource || uri.pinValue) return true;
    const pin = this.#fromEnv(device, 'user');
    return pin !== undefined && !DevicePins.#elsewhere(pin, device);
  }

  /**
   * The user PIN of `device` (or its SO PIN, `role` so, from the file a person named or its
   * variables); `what` names it in a prompt: `user PIN of token "ca" (serial 9f3c…)`.
   */
  async obtain(uri: { pinSource?: string; pinValue?: Secret }, device: PinDevice, what: string, role: PinRole = 'user'): Promise<Secret> {
    const fromUri = pinFromUri(uri, this.#interaction);
    if (fromUri) return fromUri;
    const pin = this.#fromEnv(device, role);
    if (pin && (!DevicePins.#elsewhere(pin, device) || (await this.#share(pin, device, role)))) {
      if (!pin.givenTo.some((d) => d.id === device.id)) this.#given.set(pin.variable, [...pin.givenTo, device]);
      return Secret.fromString(pin.value);
    }
    return askPin(what, this.#interaction, this.#whereFrom(device, role));
  }

  /** A person's word on trying a variable's PIN, already given to another device, on this one too. */
  async #share(pin: EnvPin, device: PinDevice, role: PinRole): Promise<boolean> {
    const first = pin.givenTo[0]!;
    const answer = await this.#interaction.confirm(
      `${pin.variable} went to ${first.name} in this command. Try it on ${device.name} too? (No: you are asked for this one's PIN)`,
    );
    if (answer !== undefined) return answer;
    const { own, shared, fileFor, listed } = ROLES[role];
    const [deviceOwn, firstOwn] = [own(device), own(first)];
    throw keywardError('PIN_AMBIGUOUS', `${pin.variable} went to ${first.name}; it is not tried on ${device.name} too, which may have another PIN`, {
      hint:
        `give each device its own PIN: ${deviceOwn ? `set ${deviceOwn} for ${device.name}` : fileFor(device)}` +
        (pin.variable === shared && firstOwn ? ` and ${firstOwn} for ${first.name}` : '') +
        `; ${shared} serves one device per command (${listed})`,
    });
  }

  /** Where `device`'s PIN could come from, for a command that has nobody to ask; names variables set for other devices. */
  #whereFrom(device: PinDevice, role: PinRole): string {
    const { own: ownOf, ownPattern, shared, file } = ROLES[role];
    const own = ownOf(device);
    const others = Object.keys(this.#env).filter((name) => ownPattern.test(name) && name !== own && this.#env[name]);
    return (
      `${own ? `set ${own} (this device's own) or ${shared}` : `set ${shared}`}, or ${file}` +
      (others.length ? `; set here, for other devices: ${others.sort().join(', ')}` : '')
    );
  }
}
