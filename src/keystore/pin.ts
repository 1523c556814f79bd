/**
 * Where PINs come from, in order: the URI's `pin-source` (RFC 7512: a file), its `pin-value`
 * (accepted, with a warning), an environment variable, then a masked prompt. A PIN never comes from
 * argv and is never written anywhere.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fileProblem, keywardError } from '../errors.js';
import { Secret } from '../secret.js';
import type { Interaction } from './interaction.js';

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

/** The user PIN a key URI leads to: its pin-source or pin-value, else KEYWARD_PIN, else a prompt for `what`. */
export function userPinRequest(uri: { pinSource?: string; pinValue?: Secret }, what: string): PinRequest {
  return { what, pinSource: uri.pinSource, pinValue: uri.pinValue, envVar: 'KEYWARD_PIN' };
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

/** Whether a PIN can be had without asking anyone: from the URI's pin-source or pin-value, or the environment. */
export function pinAtHand(request: PinRequest, env: NodeJS.ProcessEnv): boolean {
  return Boolean(request.pinSource || request.pinValue || env[request.envVar]);
}

export async function obtainPin(request: PinRequest, interaction: Interaction, env: NodeJS.ProcessEnv): Promise<Secret> {
  if (request.pinSource) return readPinFile(request.pinSource, interaction);
  if (request.pinValue) {
    interaction.warn('the URI carries pin-value: a PIN in a URI ends up in shell history and process lists; prefer pin-source=file:…');
    return request.pinValue;
  }
  const fromEnv = env[request.envVar];
  if (fromEnv) return Secret.fromString(fromEnv);
  const asked = await interaction.askSecret(`Enter the ${request.what}:`);
  if (asked && asked.byteLength > 0) return asked;
  throw keywardError('PIN_REQUIRED', `the ${request.what} is needed and there is no terminal to ask for it`, {
    hint: `put it in a file and add ?pin-source=file:/path/to/file to the URI, or set ${request.envVar}`,
  });
}
