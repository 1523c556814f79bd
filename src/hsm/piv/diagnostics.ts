/**
 * What the machine sees of YubiKeys, and why PIV may not work: YubiKeys on USB (node-hid, and sysfs
 * on Linux, where a CCID-only YubiKey has no HID interface to show), PC/SC readers and the PIV
 * applications behind them. Each mismatch is explained with what to do.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { KeywardError } from '../../errors.js';
import { factoryDefaultsWarning, PivSession, type FactoryCredential } from './session.js';
import { listReaders, PcscTransport, type ReaderInfo } from './transport/pcsc.js';

export const YUBICO_VENDOR_ID = 0x1050;

/** USB interfaces a YubiKey exposes, from its product id (Yubico's PID table). */
const INTERFACES: Readonly<Record<number, string[]>> = {
  0x0401: ['OTP'],
  0x0402: ['FIDO'],
  0x0403: ['OTP', 'FIDO'],
  0x0404: ['CCID'],
  0x0405: ['OTP', 'CCID'],
  0x0406: ['FIDO', 'CCID'],
  0x0407: ['OTP', 'FIDO', 'CCID'],
  0x0110: ['OTP'],
  0x0111: ['OTP', 'CCID'],
  0x0112: ['CCID'],
  0x0113: ['FIDO'],
  0x0114: ['OTP', 'FIDO'],
  0x0115: ['FIDO', 'CCID'],
  0x0116: ['OTP', 'FIDO', 'CCID'],
  0x0120: ['FIDO'],
  0x0410: ['OTP', 'FIDO'],
};

export interface UsbYubiKey {
  productId: number;
  product: string;
  serial?: string;
  interfaces: string[];
  /** How it was seen. */
  source: 'hid' | 'sysfs';
}

export interface PivReader {
  reader: string;
  serial?: number;
  firmware?: string;
  /** Credentials still at their factory values (firmware 5.3+ tells). */
  factoryDefaults?: FactoryCredential[];
  error?: string;
}

export interface Finding {
  level: 'ok' | 'warning' | 'problem';
  message: string;
  hint?: string;
}

export interface DiagnosticReport {
  usb: UsbYubiKey[];
  usbError?: string;
  pcsc: { running: boolean; readers: ReaderInfo[]; error?: string };
  piv: PivReader[];
  findings: Finding[];
}

/**
 * node-hid is an optional dependency, loaded only here: an install where its native add-on could
 * not be built (no prebuilt binary for the platform, no libudev/libusb headers) still works, and
 * sees USB through sysfs alone.
 */
function loadHid(): typeof import('node-hid') {
  try {
    return createRequire(import.meta.url)('node-hid') as typeof import('node-hid');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error('not installed (an optional dependency; on Linux, USB is read from sysfs instead)', { cause: error });
    }
    throw error;
  }
}

function hidDevices(): UsbYubiKey[] {
  const hid = loadHid();
  const seen = new Map<string, UsbYubiKey>();
  for (const device of hid.devices(YUBICO_VENDOR_ID, 0)) {
    const key = `${device.productId}:${device.serialNumber ?? device.path}`;
    if (!seen.has(key)) {
      seen.set(key, {
        productId: device.productId,
        product: device.product ?? 'YubiKey',
        serial: device.serialNumber || undefined,
        interfaces: INTERFACES[device.productId] ?? [],
        source: 'hid',
      });
    }
  }
  return [...seen.values()];
}

/** Linux: every USB device with Yubico's vendor id, including CCID-only ones HID cannot see. */
function sysfsDevices(root = '/sys/bus/usb/devices'): UsbYubiKey[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  const read = (dir: string, file: string) => {
    try {
      return readFileSync(join(root, dir, file), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  return entries.flatMap((dir) => {
    if (read(dir, 'idVendor') !== YUBICO_VENDOR_ID.toString(16).padStart(4, '0')) return [];
    const productId = parseInt(read(dir, 'idProduct') ?? '0', 16);
    return [
      { productId, product: read(dir, 'product') ?? 'YubiKey', serial: read(dir, 'serial'), interfaces: INTERFACES[productId] ?? [], source: 'sysfs' as const },
    ];
  });
}

export interface DiagnoseOptions {
  /** Linux's USB device tree (tests give a constructed one). */
  sysfsRoot?: string;
  /** Whether to ask node-hid (off in tests that construct the USB view). */
  hid?: boolean;
}

export async function diagnose(options: DiagnoseOptions = {}): Promise<DiagnosticReport> {
  const findings: Finding[] = [];
  let usb: UsbYubiKey[] = [];
  let usbError: string | undefined;
  try {
    if (options.hid !== false) usb = hidDevices();
  } catch (error) {
    usbError = `node-hid: ${(error as Error).message}`;
  }
  for (const device of sysfsDevices(options.sysfsRoot)) {
    if (!usb.some((u) => u.productId === device.productId && (u.serial ?? '') === (device.serial ?? ''))) usb.push(device);
  }

  const pcsc: DiagnosticReport['pcsc'] = { running: false, readers: [] };
  try {
    pcsc.readers = listReaders();
    pcsc.running = true;
  } catch (error) {
    pcsc.error = error instanceof KeywardError ? error.message : String(error);
    pcsc.running = !(error instanceof KeywardError && error.code === 'PCSC_NOT_RUNNING');
  }

  const piv: PivReader[] = [];
  for (const reader of pcsc.readers.filter((r) => r.cardPresent)) {
    try {
      let factoryDefaults: FactoryCredential[] = [];
      const session = await PivSession.open(
        await PcscTransport.connect(reader.name, { busyTimeoutMs: 500 }),
        {},
        async (opened) => void (factoryDefaults = await opened.factoryDefaults()),
      );
      piv.push({ reader: reader.name, serial: session.serial, firmware: session.version.join('.'), factoryDefaults });
      await session.close();
    } catch (error) {
      piv.push({ reader: reader.name, error: error instanceof KeywardError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : String(error) });
    }
  }

  // -- what it means --
  const withCcid = usb.filter((u) => u.interfaces.includes('CCID'));
  const withoutCcid = usb.filter((u) => u.interfaces.length > 0 && !u.interfaces.includes('CCID'));
  for (const device of withoutCcid) {
    findings.push({
      level: 'problem',
      message: `${device.product} (${device.interfaces.join('+')}) is on USB with its CCID interface disabled: PIV is reached only through CCID`,
      hint: 'enable it: ykman config mode OTP+FIDO+CCID (then replug)',
    });
  }
  if (!pcsc.running) {
    findings.push({
      level: usb.length ? 'problem' : 'warning',
      message: `the PC/SC service is not running${usb.length ? ', so the YubiKey on USB cannot be reached' : ''}`,
      hint: 'start it: sudo systemctl start pcscd.socket (Debian/Ubuntu: sudo apt-get install pcscd)',
    });
  } else if (pcsc.error) {
    findings.push({ level: 'problem', message: `PC/SC: ${pcsc.error}` });
  }
  const yubicoReaders = pcsc.readers.filter((r) => /yubico|yubikey/i.test(r.name));
  if (pcsc.running && withCcid.length > 0 && yubicoReaders.length === 0) {
    findings.push({
      level: 'problem',
      message: 'a YubiKey with CCID enabled is on USB, but PC/SC shows no YubiKey reader',
      hint: 'the CCID driver may be missing (sudo apt-get install libccid) or pcscd needs a restart; then replug the YubiKey',
    });
  }
  for (const reader of piv) {
    if (reader.error && /another program/.test(reader.error)) {
      findings.push({
        level: 'problem',
        message: `"${reader.reader}" is held exclusively by another program`,
        hint: "gpg's scdaemon often does: gpgconf --kill scdaemon",
      });
    } else if (reader.error) {
      findings.push({ level: 'warning', message: `"${reader.reader}": no PIV application (${reader.error})` });
    } else {
      findings.push({ level: 'ok', message: `YubiKey ${reader.serial ?? ''} (firmware ${reader.firmware}) ready in "${reader.reader}"` });
      if (reader.factoryDefaults?.length) {
        findings.push({ level: 'warning', ...factoryDefaultsWarning(`YubiKey ${reader.serial ?? ''} in "${reader.reader}"`, reader.factoryDefaults) });
      }
    }
  }
  if (usb.length === 0 && piv.length === 0) {
    findings.push({
      level: 'warning',
      message: 'no YubiKey on USB and no PIV card in any PC/SC reader',
      hint: 'plug a YubiKey in; for tests, keyward yubikey virtual serve plugs in a virtual one',
    });
  }
  return { usb, ...(usbError ? { usbError } : {}), pcsc, piv, findings };
}
