/**
 * One line per APDU for `keyward yubikey virtual serve --log-apdus`. Commands that carry secrets
 * (PINs, PUKs, management keys, imported private keys) are logged without their data.
 */
import { parseCommand } from '../piv/apdu.js';
import { INS } from '../piv/spec.js';

const SECRET_BEARING = new Set<number>([INS.VERIFY, INS.CHANGE_REFERENCE_DATA, INS.RESET_RETRY_COUNTER, INS.SET_MANAGEMENT_KEY, INS.IMPORT_KEY]);

export function describeApdu(command: Uint8Array, response: Uint8Array): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const header = hex(command.subarray(0, 4));
  let dataLength = 0;
  try {
    dataLength = parseCommand(command).data.length;
  } catch {
    // A malformed command is logged as it came.
  }
  const body = SECRET_BEARING.has(command[1] ?? 0) && dataLength > 0 ? `[${dataLength} bytes redacted]` : hex(command.subarray(4));
  const sw = hex(response.subarray(response.length - 2));
  return `> ${header} ${body}`.trimEnd() + ` < ${sw} (${Math.max(0, response.length - 2)} bytes)`;
}
