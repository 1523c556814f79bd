/**
 * Copying a key from one PKCS#11 token to another under wrap (hsm/pkcs11/wrap.ts), as a backup or
 * restore ceremony does: the key must have been made for it (`backup: 'wrap'`: sensitive,
 * extractable only wrapped by a trusted key), the source token's Security Officer trusts the
 * destination's transport key, and the copy on the destination has the same policy and public key.
 * The key is never in the clear outside the two tokens, and the wrapped key is never written
 * anywhere: it is in this process's memory between the two calls that make and take it.
 *
 * Each step is reported as it is done (a ceremony's transcript holds them). A copy already on the
 * destination with the source's public key is, when resuming, taken as made before a stop: the
 * key is never copied twice; a wrap the stop cut short (its wrapped key died with the process) is
 * made again, and says so.
 */
import { createHash } from 'node:crypto';
import { ALGORITHMS } from '../../crypto/algorithms.js';
import { keywardError } from '../../errors.js';
import { findKeys, objectsWithId, requireKeyAttributes, type Pkcs11Key, type PrivateKeyAttributes } from '../../hsm/pkcs11/keys.js';
import type { Token } from '../../hsm/pkcs11/token.js';
import {
  copyPublicKey,
  destroySessionObjects,
  makeTransportKey,
  missingWrapMechanisms,
  TRANSPORT_KEY_BITS,
  trustTransportKey,
  unwrapFromTransport,
  WRAP_MECHANISMS,
  wrapForTransport,
  type CopyTarget,
  type TransportKey,
  type TrustedWrap,
  type Wrapped,
} from '../../hsm/pkcs11/wrap.js';
import type { Secret } from '../../secret.js';
import type { BackendContext } from '../backend.js';
import type { KeyUri } from '../uri/origin.js';
import { parsePkcs11Uri, type Pkcs11Uri } from '../uri/index.js';
import { tokenPinDevice, type TokenLogins } from './login.js';
import { keyFilter, requireKeySelector, type Pkcs11Resolver } from './resolve.js';

/** The steps of a copy, in order, as `KeyCopyRequest.step` is told of them. */
export type KeyCopyStep = 'source-checked' | 'copy-found' | 'transport-made' | 'transport-trusted' | 'key-wrapped' | 'key-unwrapped';

export interface KeyCopyRequest {
  /** The key to copy. */
  source: KeyUri;
  /** The token the copy goes to, and its label (object=). */
  destination: KeyUri;
  /** The operator's file for the source token's SO PIN (pin-source=file:…); else its KEYWARD_SO_PIN_TOKEN_<serial>, KEYWARD_SO_PIN, or a prompt. */
  soPinSource?: string;
  /** A copy found on the destination (its label, the source's public key) was made before a stop: it is kept, not refused. */
  resume?: boolean;
  /** Told of each step once done; what it is given holds no secret. */
  step?: (step: KeyCopyStep, data: Record<string, unknown>) => void;
  /** Asked before each step that cannot be taken back (the SO's trust, the copy onto the destination); no stops the copy. */
  confirm?: (question: string, data: Record<string, unknown>) => Promise<boolean>;
}

export interface KeyCopyResult {
  /** SubjectPublicKeyInfo DER of the key (the source's and the copy's: one key). */
  spki: Buffer;
  /** False when the copy was found, made before a stop. */
  copied: boolean;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** What a token is, for the record: label and serial. */
const tokenFacts = (token: Token) => ({ token: token.label, serial: token.info().serial });

/** The private key's policy attributes, as recorded. */
const policy = (attributes: PrivateKeyAttributes) => ({
  sensitive: attributes.sensitive,
  extractable: attributes.extractable,
  wrapWithTrusted: attributes.wrapWithTrusted,
  alwaysSensitive: attributes.alwaysSensitive,
  neverExtractable: attributes.neverExtractable,
  local: attributes.local,
});

export class Pkcs11KeyCopy {
  readonly #ctx: BackendContext;
  readonly #resolver: Pkcs11Resolver;
  readonly #logins: TokenLogins;

  constructor(context: BackendContext, resolver: Pkcs11Resolver, logins: TokenLogins) {
    this.#ctx = context;
    this.#resolver = resolver;
    this.#logins = logins;
  }

  async copy(request: KeyCopyRequest): Promise<KeyCopyResult> {
    const step = request.step ?? (() => undefined);
    const sourceUri = parsePkcs11Uri(request.source.text);
    requireKeySelector(sourceUri, request.source.text, 'copy a key');
    const destinationUri = parsePkcs11Uri(request.destination.text);
    if (!destinationUri.object) {
      throw keywardError('LABEL_REQUIRED', 'the copy needs a label on its token', { hint: 'add object=<label> to the destination URI' });
    }
    const source = this.#resolver.token(sourceUri, request.source.text, request.source.origin);
    const destination = this.#resolver.token(destinationUri, request.destination.text, request.destination.origin);
    if (source === destination) {
      throw keywardError('KEY_COPY_SAME_TOKEN', `the copy would go to the token it comes from (token "${source.label}", serial ${source.info().serial})`, {
        hint: 'a backup is on a second token: name another one',
      });
    }
    for (const token of [source, destination]) {
      const missing = missingWrapMechanisms(token);
      if (missing.length) {
        throw keywardError('MECHANISM_UNSUPPORTED', `token "${token.label}" does not offer ${missing.join(', ')}, which a copy under wrap needs`, {
          hint: 'keyward token list --mechanisms shows what it offers',
        });
      }
    }

    // The key, and whether it may leave its token at all: checked before anything changes.
    await this.#logins.login(source, sourceUri);
    let key = this.#resolver.uniqueKey(findKeys(source, keyFilter(sourceUri)), request.source.text, source, sourceUri);
    const attributes = key.privateAttributes();
    requireWrappable(key, attributes);
    const spki = key.spki();
    const target: CopyTarget = { keyType: key.keyType!, id: key.id, label: destinationUri.object };
    step('source-checked', { ...tokenFacts(source), label: key.label, algorithm: key.algorithm, spkiSha256: sha256(spki), attributes: policy(attributes) });

    await this.#logins.login(destination, destinationUri);
    const [found, ...others] = findKeys(destination, { label: target.label });
    const foundSame = found !== undefined && others.length === 0 && request.resume === true && found.spki().equals(spki);
    if (found && !foundSame) {
      throw keywardError('LABEL_IN_USE', `token "${destination.label}" already has a key labelled "${target.label}"`, {
        hint: request.resume
          ? "it is not the source's key: find what it is before going on"
          : 'a copy never replaces a key: choose another label, or check what that key is (keyward key list)',
      });
    }
    // Nothing else may hold the key's CKA_ID there (an earlier copy under another label, say): keys
    // are told apart by it, so the copy could be taken for it, and a failed check of the copy would
    // destroy it. Only the copy found under this label, made before a stop, holds it.
    const ours = foundSame ? [found.privateKey, found.publicKey, found.certificate] : [];
    const holders = key.id.length > 0 ? objectsWithId(destination, key.id).filter(({ handle }) => !ours.some((h) => h?.equals(handle))) : [];
    if (holders.length > 0) {
      const labels = [...new Set(holders.map((o) => o.label))];
      throw keywardError(
        'ID_IN_USE',
        `token "${destination.label}" already has objects with the id of key "${key.label}" (labelled ${labels.map((l) => `"${l}"`).join(', ')})`,
        {
          hint: 'a copy never shares its id with another key: find out what they are (keyward key list); an earlier copy may be kept there, or deleted before copying again',
          details: { token: destination.label, id: key.id.toString('hex'), labels },
        },
      );
    }
    if (foundSame && found.privateKey) {
      requireKeyAttributes(found, 'wrap', 'found');
      step('copy-found', { ...tokenFacts(destination), label: target.label, spkiSha256: sha256(spki), attributes: policy(found.privateAttributes()) });
      return { spki, copied: false };
    }

    const ask = async (question: string, data: Record<string, unknown>) => {
      if (request.confirm && !(await request.confirm(question, data))) {
        throw keywardError('CANCELLED', `not done: ${question}`, { hint: 'nothing was copied; the ephemeral keys die with this process' });
      }
    };
    const warn = (message: string) => this.#ctx.interaction.warn(message);
    let transport: TransportKey | undefined;
    let trusted: TrustedWrap | undefined;
    let wrapped: Wrapped | undefined;
    let publicKey: Buffer | undefined;
    try {
      transport = await makeTransportKey(destination);
      const transportSha256 = sha256(transport.spki);
      step('transport-made', { ...tokenFacts(destination), bits: TRANSPORT_KEY_BITS, spkiSha256: transportSha256, sessionObjects: true });

      await ask(
        `Security Officer of token "${source.label}": trust the transport key of token "${destination.label}" (sha256 ${transportSha256}) to carry the key?`,
        {
          transportSha256,
        },
      );
      // From the SO's trust to the wrap, whatever stops the copy (a re-login, a key changed meanwhile) destroys the trusted keys.
      try {
        await this.#asSecurityOfficer(source, request.soPinSource, () => (trusted = trustTransportKey(source, transport!.spki, warn)));
        step('transport-trusted', {
          ...tokenFacts(source),
          spkiSha256: transportSha256,
          trusted: ['transport public key', 'AES-256 key'],
          sessionObjects: true,
        });
        // The SO's login ended the user's, and with it the handles of private objects: log in and find the key again.
        await this.#logins.login(source, sourceUri);
        key = this.#refind(source, sourceUri, request.source.text, { id: key.id, spki });
        wrapped = wrapForTransport(source, trusted!, key.privateKey!);
      } finally {
        destroySessionObjects(
          source,
          [
            [trusted?.transport, 'trusted transport public key'],
            [trusted?.secret, 'trusted AES key'],
          ],
          warn,
        );
      }
      step('key-wrapped', { ...tokenFacts(source), mechanisms: WRAP_MECHANISMS, bytes: wrapped.key.length, written: 'nowhere: in memory until unwrapped' });

      await ask(`Make the copy "${target.label}" on token "${destination.label}" (serial ${destination.info().serial})?`, { label: target.label });
      publicKey = found?.publicKey ?? copyPublicKey(destination, key, target);
      unwrapFromTransport(destination, transport, wrapped, target, warn);
      publicKey = undefined;
    } catch (error) {
      // A public key made for a copy that did not happen would block the next try under its label.
      if (publicKey && !found) {
        try {
          destination.destroyObject(publicKey, `remove the public key made for the copy "${target.label}"`);
        } catch (failed) {
          warn(`${(failed as Error).message}: it is left on the token, and a copy under that label is refused until it is deleted (keyward key delete)`);
        }
      }
      throw error;
    } finally {
      wrapped?.key.fill(0);
      wrapped?.secret.fill(0);
      destroySessionObjects(
        destination,
        [
          [transport?.publicKey, 'transport public key'],
          [transport?.privateKey, 'transport private key'],
        ],
        warn,
      );
    }
    const copy = findKeys(destination, { id: target.id, label: target.label })[0];
    if (!copy?.privateKey) throw keywardError('KEY_GENERATION_LOST', `token "${destination.label}" unwrapped the key but the copy cannot be found`);
    requireKeyAttributes(copy, 'wrap', 'copied');
    step('key-unwrapped', { ...tokenFacts(destination), label: target.label, spkiSha256: sha256(copy.spki()), attributes: policy(copy.privateAttributes()) });
    return { spki, copied: true };
  }

  /**
   * The source key found again by its URI after a login ended its handles: one key, and the one
   * checked before (its id and public key), or the copy stops before anything leaves the token.
   */
  #refind(token: Token, uri: Pkcs11Uri, uriText: string, checked: { id: Buffer; spki: Buffer }): Pkcs11Key {
    const key = this.#resolver.uniqueKey(findKeys(token, keyFilter(uri)), uriText, token, uri);
    const why = !key.privateKey
      ? 'it has no private key now'
      : !key.id.equals(checked.id)
        ? `its id is ${key.id.toString('hex')} now, not ${checked.id.toString('hex')}`
        : !key.spki().equals(checked.spki)
          ? 'its public key is another'
          : undefined;
    if (why === undefined) return key;
    throw keywardError(
      'KEY_COPY_SOURCE_CHANGED',
      `key "${key.label}" on token "${token.label}" is not the key checked before the Security Officer logged in: ${why}`,
      {
        hint: 'something changed the token during the copy; nothing was copied: find out what before copying again (keyward key list)',
      },
    );
  }

  /** Runs `use` with the token's Security Officer logged in (the user logged out first: one login a token); logs the SO out after. */
  async #asSecurityOfficer<T>(token: Token, soPinSource: string | undefined, use: () => T): Promise<T> {
    const allowFinalTry = await this.#logins.allowFinalTry(token, 'so');
    const pin = await this.#soPin(token, soPinSource);
    try {
      token.logout();
      token.login(pin, { userType: 'so', allowFinalTry });
    } finally {
      pin.dispose();
    }
    try {
      return use();
    } finally {
      token.logout();
    }
  }

  /** The SO PIN: the operator's file, the token's own variable, KEYWARD_SO_PIN (one token per command, as KEYWARD_PIN), or the prompt. */
  #soPin(token: Token, soPinSource: string | undefined): Promise<Secret> {
    const device = tokenPinDevice(token);
    return this.#ctx.pins.obtain(soPinSource ? { pinSource: soPinSource } : {}, device, `SO PIN of ${device.name}`, 'so');
  }
}

/** A key made to be copied: a private key Keyward can sign with, sensitive, extractable only wrapped by a trusted key. */
function requireWrappable(key: Pkcs11Key, attributes: PrivateKeyAttributes): void {
  const family = key.algorithm ? ALGORITHMS[key.algorithm].family : undefined;
  const why = !key.privateKey
    ? 'it has no private key on the token'
    : family !== 'ec' && family !== 'rsa'
      ? `it is ${key.algorithm ?? 'of a key type Keyward does not use'}; Keyward copies ECDSA and RSA keys`
      : attributes.extractable !== true
        ? 'it was made non-extractable: it can never leave its token'
        : attributes.sensitive !== true || attributes.wrapWithTrusted !== true
          ? `it is extractable without the safeguards of a key made for backup (sensitive ${String(attributes.sensitive)}, wrap-with-trusted ${String(attributes.wrapWithTrusted)})`
          : undefined;
  if (why === undefined) return;
  throw keywardError('KEY_NOT_WRAPPABLE', `key "${key.label}" on token "${key.token.label}" cannot be copied under wrap: ${why}`, {
    hint:
      attributes.extractable === true
        ? 'Keyward copies only keys made for it (backup: wrap); move to a new key made so'
        : 'only a key made with backup: wrap (root and intermediate ceremonies) can be backed up; for this one, make a new root with backup: wrap and rotate to it',
    details: { token: key.token.label, label: key.label, attributes },
  });
}
