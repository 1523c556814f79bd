/**
 * PKCS#11 constants: pkcs11js's, plus the ones it lacks (PKCS#11 v3.0 EdDSA), and reverse lookups
 * for messages ("CKR_PIN_INCORRECT" rather than 160).
 */
import pkcs11js from 'pkcs11js';

export { pkcs11js as ck };

// PKCS#11 v3.0 §2.3.5 and §6.3: Edwards-curve keys and EdDSA, which pkcs11js 2.x does not name.
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
// PKCS#11 §5.7 CK_SLOT_INFO flags and §5.6 session states, which pkcs11js does not name or type.
export const CKF_TOKEN_PRESENT = 0x1;
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_USER_FUNCTIONS = 3;
export const CKS_RW_SO_FUNCTIONS = 4;

/** DER of the OID 1.3.101.112 (id-Ed25519), the CKA_EC_PARAMS of an Ed25519 key. */
export const ED25519_EC_PARAMS = Buffer.from('06032b6570', 'hex');

const constants = pkcs11js as unknown as Record<string, unknown>;

function reverseLookup(prefix: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const [name, value] of Object.entries(constants)) {
    if (name.startsWith(prefix) && typeof value === 'number' && !map.has(value)) map.set(value, name);
  }
  return map;
}

const ckrNames = reverseLookup('CKR_');
const mechanismNames = reverseLookup('CKM_');
mechanismNames.set(CKM_EC_EDWARDS_KEY_PAIR_GEN, 'CKM_EC_EDWARDS_KEY_PAIR_GEN');
mechanismNames.set(CKM_EDDSA, 'CKM_EDDSA');

export function ckrName(code: number): string {
  return ckrNames.get(code) ?? `CKR_0x${code.toString(16)}`;
}

export function mechanismName(mechanism: number): string {
  return mechanismNames.get(mechanism) ?? `CKM_0x${mechanism.toString(16)}`;
}

/** CKU_* user types. */
export type UserType = 'user' | 'so';
export function ckUser(type: UserType): number {
  return type === 'so' ? pkcs11js.CKU_SO : pkcs11js.CKU_USER;
}
