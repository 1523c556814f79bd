/**
 * Attribute templates for key generation. Every private key is made on the token, private,
 * sensitive and never extractable, usable for signing only: SoftHSM (and others) default to
 * DECRYPT/UNWRAP true and SENSITIVE false when a template is silent, so nothing is left unsaid.
 * The one exception is asked for by name (`backup: 'wrap'`): a key that may leave the token only
 * wrapped by a key the token's Security Officer marked trusted (CKA_WRAP_WITH_TRUSTED), so that a
 * backup ceremony can copy it to a second token (wrap.ts) and nothing else can take it out.
 */
import pkcs11js from 'pkcs11js';
import { ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519_EC_PARAMS } from './constants.js';

/** How a private key may leave its token: never (absent), or only wrapped by a trusted key. */
export type KeyBackup = 'wrap';

/** What a private key Keyward makes (or copies) must say of itself when read back: SoftHSM's defaults are unsafe. */
export function expectedPrivateAttributes(backup?: KeyBackup): Record<string, boolean> {
  return {
    private: true,
    sensitive: true,
    extractable: backup === 'wrap',
    ...(backup === 'wrap' ? { wrapWithTrusted: true } : {}),
    sign: true,
    decrypt: false,
    unwrap: false,
    derive: false,
  };
}

/** The private key's attributes that say who may use it and how it may leave the token. */
export function privateKeyPolicy(backup?: KeyBackup): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: backup === 'wrap' },
    ...(backup === 'wrap' ? [{ type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true }] : []),
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ];
}

export interface KeyPairTemplates {
  mechanism: pkcs11js.Mechanism;
  publicTemplate: pkcs11js.Template;
  privateTemplate: pkcs11js.Template;
}

const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

export function keyPairTemplates(algorithm: KeyAlgorithm, id: Buffer, label: string, backup?: KeyBackup): KeyPairTemplates {
  const info = ALGORITHMS[algorithm];
  const common = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
  const publicTemplate: pkcs11js.Template = [
    ...common,
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
  ];
  const privateTemplate: pkcs11js.Template = [...common, { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, ...privateKeyPolicy(backup)];
  switch (info.family) {
    case 'ec':
      publicTemplate.push(
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
        { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(info.curveOidDer, 'hex') },
      );
      privateTemplate.push({ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC });
      return { mechanism: { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN }, publicTemplate, privateTemplate };
    case 'rsa':
      publicTemplate.push(
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
        { type: pkcs11js.CKA_MODULUS_BITS, value: info.bits },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_PUBLIC_EXPONENT },
      );
      privateTemplate.push({ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA });
      return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, publicTemplate, privateTemplate };
    case 'ed25519':
      publicTemplate.push({ type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }, { type: pkcs11js.CKA_EC_PARAMS, value: ED25519_EC_PARAMS });
      privateTemplate.push({ type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS });
      return { mechanism: { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, publicTemplate, privateTemplate };
  }
}
