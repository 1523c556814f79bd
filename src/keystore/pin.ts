/**
 * Where PINs come from, in order: the URI's `pin-source` (RFC 7512: a file), its `pin-value`
 * (accepted, with a warning), an environment variable, then a masked prompt. A PIN never comes from
 * argv and is never written anywhere.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AuthError, NotFoundError, UsageError } from '../errors.js';
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

function pinFilePath(source: string): string {
  if (source.startsWith('file://')) return fileURLToPath(source);
  if (source.startsWith('file:')) return source.slice('file:'.length);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) {
    throw new UsageError('PIN_SOURCE_UNSUPPORTED', `pin-source "${source}" is not a file`, {
      hint: 'use pin-source=file:/path/to/pin-file (RFC 7512), or KEYWARD_PIN, or the prompt',
    });
  }
  return source;
}

/** Reads a PIN file: its first line, without the line ending. */
export function readPinFile(source: string, interaction: Interaction): Secret {
  const path = pinFilePath(source);
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (cause) {
    throw new NotFoundError('PIN_SOURCE_UNREADABLE', `cannot read the PIN file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause,
      hint: 'check the path in pin-source=file:…',
    });
  }
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      interaction.warn(`the PIN file ${path} can be read by other users; chmod 600 ${path}`);
    }
  } catch {
    // Read already succeeded; the mode check is advice only.
  }
  const end = content.findIndex((b) => b === 0x0a || b === 0x0d);
  const pin = Secret.fromBytes(end === -1 ? content : content.subarray(0, end));
  content.fill(0);
  if (pin.byteLength === 0) {
    throw new UsageError('PIN_EMPTY', `the PIN file ${path} is empty`);
  }
  return pin;
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
  throw new AuthError('PIN_REQUIRED', `the ${request.what} is needed and there is no terminal to ask for it`, {
    hint: `put it in a file and add ?pin-source=file:/path/to/file to the URI, or set ${request.envVar}`,
  });
}
