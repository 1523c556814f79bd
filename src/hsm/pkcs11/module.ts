/**
 * Loading PKCS#11 modules: finding the shared library, one C_Initialize per module per process, and
 * C_Finalize when the process exits.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { keywardError } from '../../errors.js';
import type { Secret } from '../../secret.js';
import { CKF_TOKEN_PRESENT } from './constants.js';
import { ckrOf, errorForCkr, pkcs11Call } from './errors.js';
import { padLabel, slotIdOf, unpad } from './fields.js';
import { requireAllowedModule, type ModuleRequester } from './module-policy.js';
import { P11KIT_MODULE_DIRS, registeredModules } from './p11-kit.js';
import { defaultSoftHsmModule } from './softhsm.js';
import { Token, type ModuleInfo, type TokenModule } from './token.js';
import { uninterrupted } from './uninterrupted.js';

// Where SoftHSM2's module is found lives beside the SoftHSM stores, which need no native code.
export { defaultSoftHsmModule, SOFTHSM_MODULE_CANDIDATES } from './softhsm.js';

/** Directories searched for `module-name` (RFC 7512 §2.3) that p11-kit's registry does not know. */
const MODULE_DIRS = [
  ...P11KIT_MODULE_DIRS,
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/lib/softhsm',
  '/opt/homebrew/lib',
];

const INSTALL_SOFTHSM_HINT =
  'install SoftHSM2 (Debian/Ubuntu: sudo apt-get install softhsm2; macOS: brew install softhsm), ' +
  'or name your HSM vendor\'s module with --module, KEYWARD_PKCS11_MODULE or "?module-path=…" in the URI';

export interface ModuleSelection {
  /** `module-path` from the URI. */
  modulePath?: string;
  /** `module-name` from the URI. */
  moduleName?: string;
  /** `--module` on the command line or the `module` option of the library. */
  explicit?: string;
  /** Environment to read KEYWARD_PKCS11_MODULE from. */
  env?: NodeJS.ProcessEnv;
  /**
   * Set when the URI was read from a file rather than given by the operator: a module the URI
   * names must then be one the operator allowed (module-policy.ts).
   */
  fromFile?: ModuleRequester;
  /** The allow-list consulted for modules named from a file (default /etc/keyward/pkcs11-modules). */
  allowList?: string;
}

function findModuleByName(name: string): string | undefined {
  if (name.includes('/')) return undefined;
  const registered = registeredModules().find((m) => m.name === name);
  if (registered) return registered.path;
  const fileNames = [name, `lib${name}.so`, `${name}.so`, `lib${name}.dylib`];
  for (const dir of MODULE_DIRS) {
    for (const file of fileNames) {
      const candidate = join(dir, file);
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    }
  }
  return undefined;
}

/**
 * Which module to load: the URI's module-path, then its module-name, then the explicit choice, then
 * KEYWARD_PKCS11_MODULE, then the installed SoftHSM2. A module named by a URI from a file is
 * checked against the operator's allowances before anything loads it.
 */
export function resolveModulePath(selection: ModuleSelection = {}): string {
  const env = selection.env ?? process.env;
  const fromEnv = env.KEYWARD_PKCS11_MODULE || undefined;
  const uriOrigin = selection.fromFile
    ? `the URI in ${selection.fromFile.field ? `${selection.fromFile.field} of ` : ''}${selection.fromFile.file}`
    : 'the URI';
  const requireFile = (path: string, origin: string): string => {
    if (!existsSync(path)) {
      throw keywardError('MODULE_NOT_FOUND', `PKCS#11 module ${path} (from ${origin}) does not exist`, {
        hint: path.includes('softhsm') ? INSTALL_SOFTHSM_HINT : "check the path, or install the vendor's PKCS#11 module",
        details: { module: path },
      });
    }
    return path;
  };
  const named = selection.modulePath
    ? requireFile(selection.modulePath, `module-path in ${uriOrigin}`)
    : selection.moduleName
      ? moduleNamed(selection.moduleName)
      : undefined;
  if (named) {
    if (!selection.fromFile) return named;
    return requireAllowedModule(named, selection.fromFile, {
      operatorModules: [selection.explicit, fromEnv].filter((m): m is string => m !== undefined),
      defaultModule: defaultSoftHsmModule(),
      allowList: selection.allowList,
    });
  }
  if (selection.explicit) return requireFile(selection.explicit, '--module');
  if (fromEnv) return requireFile(fromEnv, 'KEYWARD_PKCS11_MODULE');
  const softhsm = defaultSoftHsmModule();
  if (!softhsm) {
    throw keywardError('MODULE_NOT_FOUND', 'no PKCS#11 module was named and SoftHSM2 is not installed', {
      hint: INSTALL_SOFTHSM_HINT,
    });
  }
  return softhsm;
}

function moduleNamed(name: string): string {
  const found = findModuleByName(name);
  if (!found) {
    const known = registeredModules().map((m) => m.name);
    throw keywardError('MODULE_NOT_FOUND', `no PKCS#11 module named "${name}" is installed`, {
      hint: known.length ? `modules registered with p11-kit here: ${known.join(', ')}; or give module-path=` : 'give its file with module-path= instead',
      details: { moduleName: name },
    });
  }
  return found;
}

export interface SlotDescription {
  handle: Buffer;
  /** CK_SLOT_ID as printed in `slot-id=` of a URI. */
  slotId: number;
  description: string;
  manufacturer: string;
  tokenPresent: boolean;
}

const loaded = new Map<string, Pkcs11Module>();
let exitHookInstalled = false;

export interface InitTokenOptions {
  label: string;
  soPin: Secret;
  userPin: Secret;
}

/** One loaded and initialised PKCS#11 module. */
export class Pkcs11Module implements TokenModule {
  readonly path: string;
  readonly lib: pkcs11js.PKCS11;
  readonly #tokens = new Map<string, Token>();
  #finalized = false;

  private constructor(path: string, lib: pkcs11js.PKCS11) {
    this.path = path;
    this.lib = lib;
  }

  /** Loads and initialises a module once per process; later calls return the same instance. */
  static open(path: string): Pkcs11Module {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw keywardError('MODULE_NOT_FOUND', `PKCS#11 module ${path} does not exist`, { hint: INSTALL_SOFTHSM_HINT });
    }
    const existing = loaded.get(real);
    if (existing && !existing.#finalized) return existing;

    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(real);
    } catch (cause) {
      throw keywardError('MODULE_LOAD_FAILED', `cannot load PKCS#11 module ${path}: ${(cause as Error).message}`, {
        cause,
        hint: "is it a PKCS#11 module built for this machine's architecture? (file " + path + ')',
      });
    }
    try {
      // CKF_OS_LOCKING_OK: we call the module from libuv's worker threads (C_SignAsync and friends);
      // without it SoftHSM corrupts its heap under concurrent operations.
      lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (error) {
      if (ckrOf(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
        throw pkcs11Call({ operation: `initialise PKCS#11 module ${path}` }, () => {
          throw error;
        });
      }
    }
    const module = new Pkcs11Module(real, lib);
    loaded.set(real, module);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', finalizeAllModules);
    }
    return module;
  }

  info(): ModuleInfo {
    const info = pkcs11Call({ operation: 'read module information' }, () => this.lib.C_GetInfo());
    return {
      manufacturer: unpad(info.manufacturerID),
      description: unpad(info.libraryDescription),
      version: `${info.libraryVersion.major}.${info.libraryVersion.minor}`,
      cryptokiVersion: `${info.cryptokiVersion.major}.${info.cryptokiVersion.minor}`,
    };
  }

  /** Every slot, with or without a token. */
  slots(): SlotDescription[] {
    const handles = pkcs11Call({ operation: 'list slots' }, () => this.lib.C_GetSlotList(false));
    return handles.map((handle) => {
      const info = pkcs11Call({ operation: 'read slot information' }, () => this.lib.C_GetSlotInfo(handle));
      return {
        handle,
        slotId: slotIdOf(handle),
        description: unpad(info.slotDescription),
        manufacturer: unpad(info.manufacturerID),
        tokenPresent: (info.flags & CKF_TOKEN_PRESENT) !== 0,
      };
    });
  }

  /** Tokens present now. Token objects are kept per slot, so their sessions and login survive. */
  tokens(): Token[] {
    const handles = pkcs11Call({ operation: 'list tokens' }, () => this.lib.C_GetSlotList(true));
    return handles.map((handle) => {
      const key = handle.toString('hex');
      let token = this.#tokens.get(key);
      if (!token) {
        token = new Token(this, handle);
        this.#tokens.set(key, token);
      }
      return token;
    });
  }

  /**
   * Initialises the token in an uninitialised slot (C_InitToken, then C_InitPIN as the SO). Refuses a
   * slot whose token is already initialised: re-initialising destroys every key on it.
   */
  initializeToken(slot: Buffer, options: InitTokenOptions): Token {
    const lib = this.lib;
    const ctx = { operation: `initialise token "${options.label}"` };
    const info = pkcs11Call(ctx, () => lib.C_GetTokenInfo(slot));
    if (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) {
      throw keywardError('TOKEN_ALREADY_INITIALIZED', `the token in slot ${slotIdOf(slot)} ("${unpad(info.label)}") is already initialised`, {
        hint: 're-initialising would destroy every key on it; Keyward does not do that',
      });
    }
    const padded = padLabel(options.label);
    if (options.userPin.byteLength < info.minPinLen || options.userPin.byteLength > info.maxPinLen) {
      throw keywardError('PIN_LENGTH', `the token wants a PIN of ${info.minPinLen} to ${info.maxPinLen} bytes`);
    }
    this.#forgetToken(slot);
    pkcs11Call(ctx, () => uninterrupted(() => lib.C_InitToken(slot, options.soPin.revealString(), padded)));
    // The slot's token is new: find it again (SoftHSM moves it to a new slot id).
    const token = this.tokens().find((t) => t.info().initialized && t.label === options.label && !t.info().userPinInitialized);
    if (!token) throw errorForCkr('CKR_TOKEN_NOT_PRESENT', ctx);
    token.resetUserPin(options.soPin, options.userPin);
    token.info();
    return token;
  }

  /** Forgets a slot's Token (after C_InitToken its sessions are gone). */
  #forgetToken(handle: Buffer): void {
    const key = handle.toString('hex');
    this.#tokens.get(key)?.closeSessions();
    this.#tokens.delete(key);
  }

  finalize(): void {
    if (this.#finalized) return;
    for (const token of this.#tokens.values()) token.closeSessions();
    this.#tokens.clear();
    try {
      this.lib.C_Finalize();
    } catch {
      // Already finalised or the module is gone: nothing left to release.
    }
    this.#finalized = true;
    loaded.delete(this.path);
  }
}

export function finalizeAllModules(): void {
  for (const module of [...loaded.values()]) module.finalize();
}
