/**
 * Where PINs come from, in order: the URI's `pin-source` (RFC 7512: a file), its `pin-value`
 * (accepted, with a warning), an environment variable, then a masked prompt. A PIN never comes from
 * argv and is never written anywhere. A device's user PIN goes through device-pins.ts, which picks
 * the variable for the device and keeps KEYWARD_PIN to one device.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fileProblem, keywardError } from '../errors.js';
import { Secret } from '../secret.js';
import type { Interaction } from './interaction.js';
import { printable } from '../quoted.js';

export interface PinRequest {
  /** What is asked for, for prompts and errors: `user PIN of token "ca"`. */
  what: string;
  /** `pin-source` from the URI. */
  pinSource?: string;
  /** `pin-value` from the URI. */
  pinValue?: Secret;
  /** The environment variable to read, e.g. KEYWARD_PIN. */
  envVar: string;
}

function pinFilePath(source: string): string {
  if (source.startsWith('file://')) return fileURLToPath(source);
  if (source.startsWith('file:')) return source.slice('file:'.length);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) {
    throw keywardError('PIN_SOURCE_UNSUPPORTED', `pin-source "${source}" is not a file`, {
      hint: 'use pin-source=file:/path/to/pin-file (RFC 7512), or KEYWARD_PIN, or the prompt',
    });
  }
  return source;
}

/** A PIN file holds a PIN (or a key in hex) and a line ending; more is not a PIN file: /dev/zero never ends. */
export const MAX_PIN_FILE_BYTES = 1024;

/** Reads a PIN file: its first line, without the line ending. Reads at most one byte past the limit. */
export function readPinFile(source: string, interaction: Interaction): Secret {
  const path = pinFilePath(source);
  const unreadable = (cause: unknown) =>
    keywardError('PIN_SOURCE_UNREADABLE', `cannot read the PIN file ${path}: ${fileProblem(cause)}`, {
      cause,
      hint: 'check the path in pin-source=file:…',
    });
  const content = Buffer.alloc(MAX_PIN_FILE_BYTES + 1);
  let length = 0;
  let othersMayRead: boolean;
  try {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw unreadable(cause);
    }
    try {
      othersMayRead = (fstatSync(fd).mode & 0o077) !== 0;
      // A pipe (process substitution, a FIFO) hands its content over in pieces: read to its end.
      while (length < content.length) {
        const read = readSync(fd, content, length, content.length - length, null);
        if (read === 0) break;
        length += read;
      }
    } catch (cause) {
      throw unreadable(cause);
    } finally {
      closeSync(fd);
    }
    if (length > MAX_PIN_FILE_BYTES) {
      throw keywardError('PIN_FILE_TOO_LARGE', `the PIN file ${path} holds more than ${MAX_PIN_FILE_BYTES} bytes, more than any PIN`, {
        hint: 'pin-source names a file that holds only the PIN, on its first line',
      });
    }
    const end = content.subarray(0, length).findIndex((b) => b === 0x0a || b === 0x0d);
    const pin = Secret.fromBytes(content.subarray(0, end === -1 ? length : end));
    if (pin.byteLength === 0) {
      throw keywardError('PIN_EMPTY', `the PIN file ${path} is empty`);
    }
    if (othersMayRead) interaction.warn(`the PIN file ${path} can be read by other users; chmod 600 ${path}`);
    return pin;
  } finally {
    content.fill(0);
  }
}

/** The PIN a URI gives: its pin-source (a file), else its pin-value (warned about); undefined when it gives none. */
export function pinFromUri(uri: { pinSource?: string; pinValue?: Secret }, interaction: Interaction): Secret | undefined {
  if (uri.pinSource) return readPinFile(uri.pinSource, interaction);
  if (uri.pinValue) {
    interaction.warn('the URI carries pin-value: a PIN in a URI ends up in shell history and process lists; prefer pin-source=file:…');
    return uri.pinValue;
  }
  return undefined;
}

/** Asks for `what` at the terminal; with nobody to ask, PIN_REQUIRED saying where it could come from (`hint`). */
export async function askPin(what: string, interaction: Interaction, hint: string): Promise<Secret> {
  // `what` names the device by what it says of itself (a token's label): shown on one line, nothing a terminal acts on.
  const asked = await interaction.askSecret(`Enter the ${printable(what)}:`);
  if (asked && asked.byteLength > 0) return asked;
  throw keywardError('PIN_REQUIRED', `the ${what} is needed and there is no terminal to ask for it`, { hint });
}

export async function obtainPin(request: PinRequest, interaction: Interaction, env: NodeJS.ProcessEnv): Promise<Secret> {
  const fromUri = pinFromUri(request, interaction);
  if (fromUri) return fromUri;
  const fromEnv = env[request.envVar];
  if (fromEnv) return Secret.fromString(fromEnv);
  return askPin(request.what, interaction, `put it in a file and add ?pin-source=file:/path/to/file to the URI, or set ${request.envVar}`);
}
