/**
 * What `keyward yubikey …` does with YubiKeys besides using keys: list them, and reach one's PIV
 * application for its status, PIN, PUK, retries, management key and reset. Reached through
 * `keystore.administration('yubikey')`.
 */
import type { FactoryCredential, PivSession } from '../../hsm/piv/session.js';
import { formatVersion } from '../../hsm/piv/spec.js';
import { parseYubiKeyUri } from '../uri/index.js';
import type { Secret } from '../../secret.js';
import { devicePinVariable } from '../device-pins.js';
import { yubiKeyPinDevice, type YubiKeyResolver } from './resolve.js';

export interface DeviceSummary {
  uri: string;
  reader: string;
  serial: number | undefined;
  firmware: string;
  /** The variable its own PIN may come from (KEYWARD_PIN_YUBIKEY_<serial>); undefined without a serial. */
  pinVariable: string | undefined;
}

/** A YubiKey's PIV application as administration uses it: who it is, its credentials' state, and the commands that change them. */
export type AdministeredYubiKey = Pick<
  PivSession,
  | 'device'
  | 'serial'
  | 'version'
  | 'supports'
  | 'pinStatus'
  | 'pukStatus'
  | 'managementKeyInfo'
  | 'changePin'
  | 'changePuk'
  | 'unblockPin'
  | 'setPinRetries'
  | 'setManagementKey'
  | 'resetToFactory'
>;

export class YubiKeyAdministration {
  readonly #resolver: YubiKeyResolver;

  constructor(resolver: YubiKeyResolver) {
    this.#resolver = resolver;
  }

  async devices(): Promise<DeviceSummary[]> {
    const { devices } = await this.#resolver.all({});
    return devices.map((d) => ({
      uri: this.#resolver.uriOf(d),
      reader: d.reader,
      serial: d.session.serial,
      firmware: formatVersion(d.session.version),
      pinVariable: devicePinVariable('yubikey', d.session.serial?.toString()),
    }));
  }

  /**
   * The PIV application of the one device a URI names; warns about its factory credentials, except
   * those the command is `changing` (`pin change` does not open with "still uses the factory PIN").
   */
  async session(uriText: string, options: { changing?: readonly FactoryCredential[] } = {}): Promise<AdministeredYubiKey> {
    const uri = parseYubiKeyUri(uriText);
    const device = await this.#resolver.device(uri, uriText);
    await this.#resolver.warnDefaults(device, options.changing);
    return device.session;
  }

  /**
   * The PIN of the one device a URI names, for a command that hands it to the card itself (`pin
   * change`): from the URI's pin-source, the device's own variable, KEYWARD_PIN or a prompt naming it.
   */
  async pin(uriText: string, what = 'current PIN'): Promise<Secret> {
    const uri = parseYubiKeyUri(uriText);
    const device = await this.#resolver.device(uri, uriText);
    const pinDevice = yubiKeyPinDevice(device.reader, device.session);
    return this.#resolver.userPin(uri, pinDevice, `${what} of ${pinDevice.name}`);
  }
}
