/**
 * Key pairs on a token. A "key" is the private key, public key and certificate objects that share a
 * CKA_ID (the convention p11tool, pkcs11-tool and OpenSSL's engine follow); objects with an empty
 * CKA_ID are grouped by label instead.
 */
import { randomBytes } from 'node:crypto';
import type { Certificate } from '@peculiar/asn1-x509';
import pkcs11js from 'pkcs11js';
import { ALGORITHMS, ecAlgorithmByOid, rsaAlgorithmByBits, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { digestInfo, hashBytes } from '../../crypto/signature-encoding.js';
import { keywardError } from '../../errors.js';
import { CKK_EC_EDWARDS, ED25519_EC_PARAMS } from './constants.js';
import { planSignature, type SignPlan, type SignRequest } from './mechanisms.js';
import { SignLatency } from './sign-latency.js';
import { ecSpki, rsaSpki } from '../../crypto/spki.js';
import { certificateSpki } from '../../x509/public-key.js';
import { expectedPrivateAttributes, keyPairTemplates, type KeyBackup } from './templates.js';
import type { Token } from './token.js';
import { withArticle } from '../../words.js';

export type ObjectKind = 'private' | 'public' | 'cert';

export interface KeyFilter {
  id?: Uint8Array;
  label?: string;
  /** Only keys that have an object of this kind. */
  kind?: ObjectKind;
}

/** Security-relevant attributes of the private key, as the token reports them. */
export interface PrivateKeyAttributes {
  sensitive?: boolean;
  extractable?: boolean;
  alwaysSensitive?: boolean;
  neverExtractable?: boolean;
  /** Generated on the token (not imported). */
  local?: boolean;
  private?: boolean;
  sign?: boolean;
  decrypt?: boolean;
  unwrap?: boolean;
  derive?: boolean;
  alwaysAuthenticate?: boolean;
  /** May leave the token only wrapped by a key its SO marked trusted (with `extractable`: a key made for backup). */
  wrapWithTrusted?: boolean;
}

const PRIVATE_KEY_ATTRIBUTES: Array<[keyof PrivateKeyAttributes, number]> = [
  ['sensitive', pkcs11js.CKA_SENSITIVE],
  ['extractable', pkcs11js.CKA_EXTRACTABLE],
  ['alwaysSensitive', pkcs11js.CKA_ALWAYS_SENSITIVE],
  ['neverExtractable', pkcs11js.CKA_NEVER_EXTRACTABLE],
  ['local', pkcs11js.CKA_LOCAL],
  ['private', pkcs11js.CKA_PRIVATE],
  ['sign', pkcs11js.CKA_SIGN],
  ['decrypt', pkcs11js.CKA_DECRYPT],
  ['unwrap', pkcs11js.CKA_UNWRAP],
  ['derive', pkcs11js.CKA_DERIVE],
  ['alwaysAuthenticate', pkcs11js.CKA_ALWAYS_AUTHENTICATE],
  ['wrapWithTrusted', pkcs11js.CKA_WRAP_WITH_TRUSTED],
];

function readUlong(value: Buffer | undefined): number | undefined {
  if (!value || value.length === 0) return undefined;
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

const readBool = (value: Buffer | undefined): boolean | undefined => (value && value.length > 0 ? value[0] !== 0 : undefined);

/** One key on a token: handles of its objects, and what we know of it. */
export class Pkcs11Key {
  readonly token: Token;
  readonly id: Buffer;
  readonly label: string;
  readonly keyType: number | undefined;
  /** Undefined for key types Keyward does not sign with (listed, but not usable). */
  readonly algorithm: KeyAlgorithm | undefined;
  readonly privateKey: Buffer | undefined;
  readonly publicKey: Buffer | undefined;
  readonly certificate: Buffer | undefined;
  /** How to sign for each hash and padding asked for, and how long it takes this key (sign-latency.ts). */
  readonly #plans = new Map<string, { plan: SignPlan; latency: SignLatency }>();

  constructor(init: {
    token: Token;
    id: Buffer;
    label: string;
    keyType: number | undefined;
    algorithm: KeyAlgorithm | undefined;
    privateKey?: Buffer;
    publicKey?: Buffer;
    certificate?: Buffer;
  }) {
    this.token = init.token;
    this.id = init.id;
    this.label = init.label;
    this.keyType = init.keyType;
    this.algorithm = init.algorithm;
    this.privateKey = init.privateKey;
    this.publicKey = init.publicKey;
    this.certificate = init.certificate;
  }

  privateAttributes(): PrivateKeyAttributes {
    if (!this.privateKey) return {};
    const values = this.token.readAttributes(
      this.privateKey,
      PRIVATE_KEY_ATTRIBUTES.map(([, t]) => t),
    );
    const out: PrivateKeyAttributes = {};
    for (const [name, type] of PRIVATE_KEY_ATTRIBUTES) {
      const value = readBool(values.get(type));
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  /** SubjectPublicKeyInfo DER, from the public key object, the private key (RSA) or the certificate. */
  spki(): Buffer {
    const algorithm = this.#requireAlgorithm('read the public key of');
    const family = ALGORITHMS[algorithm].family;
    const source = this.publicKey ?? (family === 'rsa' ? this.privateKey : undefined);
    if (source) {
      if (family === 'rsa') {
        const values = this.token.readAttributes(source, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
        const n = values.get(pkcs11js.CKA_MODULUS);
        const e = values.get(pkcs11js.CKA_PUBLIC_EXPONENT);
        if (n && e) return rsaSpki(n, e);
      } else {
        const point = this.token.readAttributes(source, [pkcs11js.CKA_EC_POINT]).get(pkcs11js.CKA_EC_POINT);
        if (point) return ecSpki(algorithm, point);
      }
    }
    if (this.certificate) return certificateSpki(this.certificateDer()!);
    throw keywardError('PUBLIC_KEY_UNAVAILABLE', `key "${this.label}" has no public key object and no certificate on the token`, {
      hint: 'tokens keep EC public keys in a separate object; re-create the key pair, or store its certificate',
    });
  }

  certificateDer(): Buffer | undefined {
    if (!this.certificate) return undefined;
    return this.token.readAttributes(this.certificate, [pkcs11js.CKA_VALUE]).get(pkcs11js.CKA_VALUE);
  }

  /**
   * Signs `data` with the private key. ECDSA signatures come back raw (r‖s), as PKCS#11 and
   * WebCrypto produce them; the caller re-encodes for X.509/OpenSSL.
   */
  async sign(data: Uint8Array, request: SignRequest): Promise<Buffer> {
    const algorithm = this.#requireAlgorithm('sign with');
    if (!this.privateKey) {
      throw keywardError('NOT_A_PRIVATE_KEY', `"${this.label}" has no private key on the token; it cannot sign`);
    }
    const planKey = `${request.hash}/${request.padding ?? ''}/${request.saltLength ?? ''}`;
    let planned = this.#plans.get(planKey);
    if (!planned) {
      planned = { plan: planSignature(algorithm, request, this.token.mechanisms(), this.token.label), latency: new SignLatency() };
      this.#plans.set(planKey, planned);
    }
    const { plan, latency } = planned;
    let input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (plan.hostHash) {
      input = hashBytes(plan.hostHash, input);
      if (plan.digestInfo) input = digestInfo(plan.hostHash, input);
    }
    return this.token.sign(this.privateKey, plan.mechanism, input, plan.signatureBytes, `sign with key "${this.label}"`, latency);
  }

  #requireAlgorithm(what: string): KeyAlgorithm {
    if (!this.algorithm) {
      throw keywardError('KEY_TYPE_UNSUPPORTED', `cannot ${what} key "${this.label}": Keyward does not support its key type (CKK ${this.keyType})`);
    }
    return this.algorithm;
  }
}

const OBJECT_CLASSES: Record<ObjectKind, number> = {
  private: pkcs11js.CKO_PRIVATE_KEY,
  public: pkcs11js.CKO_PUBLIC_KEY,
  cert: pkcs11js.CKO_CERTIFICATE,
};

interface FoundObject {
  handle: Buffer;
  kind: ObjectKind;
  id: Buffer;
  label: string;
}

function describeObjects(token: Token, handles: Buffer[]): FoundObject[] {
  const kinds = new Map(Object.entries(OBJECT_CLASSES).map(([k, v]) => [v, k as ObjectKind]));
  return handles.flatMap((handle) => {
    const values = token.readAttributes(handle, [pkcs11js.CKA_CLASS, pkcs11js.CKA_ID, pkcs11js.CKA_LABEL]);
    const kind = kinds.get(readUlong(values.get(pkcs11js.CKA_CLASS)) ?? -1);
    if (!kind) return [];
    return [{ handle, kind, id: values.get(pkcs11js.CKA_ID) ?? Buffer.alloc(0), label: values.get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? '' }];
  });
}

function algorithmOf(token: Token, keyType: number | undefined, object: Buffer): KeyAlgorithm | undefined {
  if (keyType === pkcs11js.CKK_EC || keyType === CKK_EC_EDWARDS) {
    const params = token.readAttributes(object, [pkcs11js.CKA_EC_PARAMS]).get(pkcs11js.CKA_EC_PARAMS);
    if (!params) return undefined;
    // Edwards keys name their curve by OID or, in some modules, by the PrintableString "edwards25519".
    if (params.equals(ED25519_EC_PARAMS) || params.subarray(2).toString('latin1') === 'edwards25519') return 'ed25519';
    return ecAlgorithmByOid(params.toString('hex'));
  }
  if (keyType === pkcs11js.CKK_RSA) {
    const values = token.readAttributes(object, [pkcs11js.CKA_MODULUS_BITS, pkcs11js.CKA_MODULUS]);
    const bits = readUlong(values.get(pkcs11js.CKA_MODULUS_BITS)) ?? (values.get(pkcs11js.CKA_MODULUS)?.length ?? 0) * 8;
    return rsaAlgorithmByBits(bits);
  }
  return undefined;
}

/** Finds keys on a logged-in (or public-only) token. */
export function findKeys(token: Token, filter: KeyFilter = {}): Pkcs11Key[] {
  const keyClasses = new Set(Object.values(OBJECT_CLASSES));
  const search = (template: pkcs11js.Template) => describeObjects(token, token.findObjects(template));
  let objects: FoundObject[];
  if (filter.id) {
    objects = search([{ type: pkcs11js.CKA_ID, value: Buffer.from(filter.id) }]);
  } else if (filter.label !== undefined) {
    const labelled = search([{ type: pkcs11js.CKA_LABEL, value: filter.label }]);
    const ids = new Set(labelled.filter((o) => o.id.length > 0).map((o) => o.id.toString('hex')));
    const siblings = [...ids].flatMap((id) => search([{ type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]));
    const seen = new Set<string>();
    objects = [...labelled, ...siblings].filter((o) => {
      const key = o.handle.toString('hex');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  } else {
    objects = [...keyClasses].flatMap((cls) => search([{ type: pkcs11js.CKA_CLASS, value: cls }]));
  }

  const groups = new Map<string, FoundObject[]>();
  for (const object of objects) {
    const group = object.id.length > 0 ? `id:${object.id.toString('hex')}` : `label:${object.label}`;
    groups.set(group, [...(groups.get(group) ?? []), object]);
  }

  const keys: Pkcs11Key[] = [];
  for (const members of groups.values()) {
    const pick = (kind: ObjectKind) => members.find((m) => m.kind === kind);
    const privateKey = pick('private');
    const publicKey = pick('public');
    const certificate = pick('cert');
    const main = privateKey ?? publicKey ?? certificate!;
    if (filter.label !== undefined && !members.some((m) => m.label === filter.label)) continue;
    if (filter.kind && !pick(filter.kind)) continue;
    const keyObject = privateKey ?? publicKey;
    const keyType = keyObject ? readUlong(token.readAttributes(keyObject.handle, [pkcs11js.CKA_KEY_TYPE]).get(pkcs11js.CKA_KEY_TYPE)) : undefined;
    const algorithm = publicKey ? algorithmOf(token, keyType, publicKey.handle) : privateKey ? algorithmOf(token, keyType, privateKey.handle) : undefined;
    const key = new Pkcs11Key({
      token,
      id: main.id,
      label: main.label,
      keyType,
      algorithm,
      privateKey: privateKey?.handle,
      publicKey: publicKey?.handle,
      certificate: certificate?.handle,
    });
    keys.push(key);
  }
  return keys.sort((a, b) => a.label.localeCompare(b.label) || a.id.compare(b.id));
}

/**
 * Every object on the token with `id` as its CKA_ID, of any class, with its label: where findKeys
 * shows one object of each kind of an id, this shows them all (two private keys under one id, say).
 */
export function objectsWithId(token: Token, id: Uint8Array): Array<{ handle: Buffer; label: string }> {
  return token.findObjects([{ type: pkcs11js.CKA_ID, value: Buffer.from(id) }]).map((handle) => ({
    handle,
    label: token.readAttributes(handle, [pkcs11js.CKA_LABEL]).get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? '',
  }));
}

export interface GenerateKeyOptions {
  algorithm: KeyAlgorithm;
  label: string;
  /** CKA_ID; 16 random bytes when absent. */
  id?: Uint8Array;
  /** `wrap`: the private key may leave the token only wrapped by a key its SO trusts (templates.ts). */
  backup?: KeyBackup;
}

/** Generates a key pair on the token. Refuses labels and ids already in use, so URIs stay unambiguous. */
export async function generateKeyPair(token: Token, options: GenerateKeyOptions): Promise<Pkcs11Key> {
  const { algorithm, label } = options;
  if (!label) throw keywardError('LABEL_REQUIRED', 'a new key needs a label', { hint: 'add object=<label> to the URI' });
  if (findKeys(token, { label }).length > 0) {
    throw keywardError('LABEL_IN_USE', `token "${token.label}" already has a key labelled "${label}"`, {
      hint: 'choose another label, or delete the old key first (keyward key delete)',
    });
  }
  const id = options.id ? Buffer.from(options.id) : randomBytes(16);
  if (options.id && findKeys(token, { id }).length > 0) {
    throw keywardError('ID_IN_USE', `token "${token.label}" already has objects with id ${id.toString('hex')}`);
  }
  const templates = keyPairTemplates(algorithm, id, label, options.backup);
  const info = ALGORITHMS[algorithm];
  const sizes = token.mechanismKeySizes(templates.mechanism.mechanism);
  if (!sizes) {
    throw keywardError('ALGORITHM_UNSUPPORTED', `token "${token.label}" cannot generate ${info.title} keys`, {
      hint: 'keyward token list --mechanisms shows what it offers',
    });
  }
  if (info.family === 'rsa' && sizes.max > 0 && (info.bits < sizes.min || info.bits > sizes.max)) {
    throw keywardError('KEY_SIZE_UNSUPPORTED', `token "${token.label}" generates RSA keys of ${sizes.min} to ${sizes.max} bits, not ${info.bits}`);
  }
  await token.generateKeyPair(templates.mechanism, templates.publicTemplate, templates.privateTemplate, `generate ${withArticle(`${info.title} key`)}`);
  const [key] = findKeys(token, { id });
  if (!key) throw keywardError('KEY_GENERATION_LOST', `the token reported success but the new key "${label}" cannot be found`);
  requireKeyAttributes(key, options.backup, 'made');
  return key;
}

/**
 * Reads a private key's attributes back and checks them against what was asked for: a token that
 * quietly ignored a template (SoftHSM fills in unsafe defaults) must not leave a key that can
 * decrypt or leave the token. A key just made or copied that fails is destroyed before the error;
 * one found there (a copy made before a stop) is left for a person to look at.
 */
export function requireKeyAttributes(key: Pkcs11Key, backup: KeyBackup | undefined, how: 'made' | 'copied' | 'found'): void {
  const actual = key.privateAttributes();
  const wrong = Object.entries(expectedPrivateAttributes(backup)).filter(([name, value]) => actual[name as keyof PrivateKeyAttributes] !== value);
  if (wrong.length === 0) return;
  if (how !== 'found') deleteKey(key);
  const said = wrong.map(([name]) => `${name} ${String(actual[name as keyof PrivateKeyAttributes] ?? 'unreported')}`).join(', ');
  const what = how === 'found' ? `key "${key.label}" on token "${key.token.label}" has` : `token "${key.token.label}" ${how} key "${key.label}" with`;
  throw keywardError('KEY_ATTRIBUTES_WRONG', `${what} ${said}, not as asked${how === 'found' ? '' : '; the key was destroyed'}`, {
    hint:
      how === 'found'
        ? 'it is not a copy Keyward made: find out where it came from before going on'
        : 'the token did not honour the attribute template: check its firmware and policy before keeping keys in it',
    details: { token: key.token.label, label: key.label, expected: Object.fromEntries(wrong), actual },
  });
}

/** Destroys every object of the key: private key first, so a failure never leaves it usable. */
export function deleteKey(key: Pkcs11Key): void {
  for (const [handle, what] of [
    [key.privateKey, 'private key'],
    [key.publicKey, 'public key'],
    [key.certificate, 'certificate'],
  ] as const) {
    if (handle) key.token.destroyObject(handle, `delete the ${what} of "${key.label}"`);
  }
}

/** Stores (or replaces) the key's X.509 certificate as a CKO_CERTIFICATE object with the key's CKA_ID. */
export async function storeCertificate(key: Pkcs11Key, der: Buffer): Promise<Buffer> {
  // The ASN.1 schemas load here: storing a certificate needs them, a command that only signs does not.
  const [{ AsnConvert }, asn1x509, { Integer }] = await Promise.all([import('@peculiar/asn1-schema'), import('@peculiar/asn1-x509'), import('asn1js')]);
  let certificate: Certificate;
  try {
    certificate = AsnConvert.parse(der, asn1x509.Certificate);
  } catch (cause) {
    throw keywardError('CERTIFICATE_MALFORMED', 'the certificate is not valid DER X.509', { cause });
  }
  const tbs = certificate.tbsCertificate;
  const handle = key.token.createObject(
    [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
      { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_ID, value: key.id },
      { type: pkcs11js.CKA_LABEL, value: key.label },
      { type: pkcs11js.CKA_SUBJECT, value: Buffer.from(AsnConvert.serialize(tbs.subject)) },
      { type: pkcs11js.CKA_ISSUER, value: Buffer.from(AsnConvert.serialize(tbs.issuer)) },
      { type: pkcs11js.CKA_SERIAL_NUMBER, value: Buffer.from(new Integer({ valueHex: tbs.serialNumber }).toBER()) },
      { type: pkcs11js.CKA_VALUE, value: der },
    ],
    `store the certificate of "${key.label}"`,
  );
  // Replace only once the new object exists: a failure above leaves the old certificate in place.
  if (key.certificate) key.token.destroyObject(key.certificate, `replace the certificate of "${key.label}"`);
  return handle;
}
