/**
 * PIV constants, named as in NIST SP 800-73-4 (Part 1 "End-Point PIV Card Application Namespace",
 * Part 2 "Card Command Interface") and Yubico's PIV extensions, with the tables both sides of the
 * card consult (what each firmware has, a slot's default PIN policy, PIN padding). Shared by the
 * driver and the virtual YubiKey, so both speak exactly the same numbers and rules.
 */

/** SP 800-73-4 Part 1 §2.2: the PIV application identifier (RID ‖ PIX prefix); cards match it by prefix. */
export const PIV_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x03, 0x08]);
/** The full AID with version, as the card reports it (Part 1 §2.2). */
export const PIV_AID_FULL = Uint8Array.from([0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]);
/** Yubico's management application (device information) and OTP application. */
export const YUBICO_MANAGEMENT_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17]);
export const YUBICO_OTP_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01]);

/** Instructions: SP 800-73-4 Part 2 §3 and Yubico's extensions. */
export const INS = {
  SELECT: 0xa4, // ISO 7816-4; SP 800-73-4 Part 2 §3.1.1
  GET_RESPONSE: 0xc0, // ISO 7816-4 §7.6.1
  GET_DATA: 0xcb, // §3.1.2
  VERIFY: 0x20, // §3.2.1
  CHANGE_REFERENCE_DATA: 0x24, // §3.2.2
  RESET_RETRY_COUNTER: 0x2c, // §3.2.3
  GENERAL_AUTHENTICATE: 0x87, // §3.2.4
  PUT_DATA: 0xdb, // §3.3.2
  GENERATE_ASYMMETRIC_KEY_PAIR: 0x47, // §3.3.3
  // Yubico extensions
  MOVE_KEY: 0xf6, // 5.7+: move (P1 = destination) or delete (P1 = 0xFF) the key in slot P2
  GET_METADATA: 0xf7, // 5.3+
  GET_SERIAL: 0xf8, // 5.0+
  ATTEST: 0xf9,
  SET_PIN_RETRIES: 0xfa,
  RESET: 0xfb,
  GET_VERSION: 0xfd,
  IMPORT_KEY: 0xfe,
  SET_MANAGEMENT_KEY: 0xff,
} as const;

/** CLA bit for every block of a command chain but the last (ISO 7816-4 §5.1.1). */
export const CLA_CHAINING = 0x10;

/** Status words (ISO 7816-4 §5.1.3; SP 800-73-4 Part 2 Table 6). */
export const SW = {
  SUCCESS: 0x9000,
  /** 61xx: xx more bytes are available with GET RESPONSE. */
  BYTES_REMAINING: 0x6100,
  /** 63Cx: verification failed, x tries left. */
  VERIFY_FAIL: 0x63c0,
  WRONG_LENGTH: 0x6700,
  /** Last command of a chain expected. */
  CHAINING_ERROR: 0x6883,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  COMMAND_NOT_ALLOWED: 0x6986,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  NOT_ENOUGH_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REFERENCE_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

/** Key references (SP 800-73-4 Part 1 Table 4b). */
export const KEY_REFERENCE = {
  PIN: 0x80,
  PUK: 0x81,
  GLOBAL_PIN: 0x00,
  MANAGEMENT_KEY: 0x9b,
} as const;

/** Key slots (Part 1 Table 4b) and Yubico's attestation slot. */
export const SLOTS = {
  '9a': { id: 0x9a, name: 'PIV authentication', object: 0x5fc105 },
  '9c': { id: 0x9c, name: 'digital signature', object: 0x5fc10a },
  '9d': { id: 0x9d, name: 'key management', object: 0x5fc10b },
  '9e': { id: 0x9e, name: 'card authentication', object: 0x5fc101 },
  ...Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [(0x82 + i).toString(16), { id: 0x82 + i, name: `retired key management ${i + 1}`, object: 0x5fc10d + i }]),
  ),
  f9: { id: 0xf9, name: 'attestation', object: 0x5fff01 },
} as Readonly<Record<string, { id: number; name: string; object: number }>>;

export type SlotName = string;

export function slotName(id: number): SlotName {
  return id.toString(16).padStart(2, '0');
}

export function isKeySlot(id: number): boolean {
  return Object.values(SLOTS).some((s) => s.id === id && s.id !== 0xf9);
}

/** Data objects (Part 1 Table 3). */
export const OBJECT = {
  DISCOVERY: 0x7e,
  CHUID: 0x5fc102,
  CCC: 0x5fc107,
  PRINTED_INFORMATION: 0x5fc109,
  KEY_HISTORY: 0x5fc10c,
  ATTESTATION_CERTIFICATE: 0x5fff01,
} as const;

/** Algorithm identifiers (SP 800-78-4 Table 6-2; Yubico for 3072/4096, Ed25519, X25519). */
export const ALGORITHM = {
  TDES: 0x03,
  RSA1024: 0x06,
  RSA2048: 0x07,
  AES128: 0x08,
  AES192: 0x0a,
  AES256: 0x0c,
  RSA3072: 0x05,
  RSA4096: 0x16,
  ECCP256: 0x11,
  ECCP384: 0x14,
  ED25519: 0xe0,
  X25519: 0xe1,
} as const;

export type ManagementKeyAlgorithm = 'tdes' | 'aes128' | 'aes192' | 'aes256';
export const MANAGEMENT_KEY_ALGORITHMS: Readonly<Record<ManagementKeyAlgorithm, { id: number; keyLength: number; blockLength: number }>> = {
  tdes: { id: ALGORITHM.TDES, keyLength: 24, blockLength: 8 },
  aes128: { id: ALGORITHM.AES128, keyLength: 16, blockLength: 16 },
  aes192: { id: ALGORITHM.AES192, keyLength: 24, blockLength: 16 },
  aes256: { id: ALGORITHM.AES256, keyLength: 32, blockLength: 16 },
};

export function managementKeyAlgorithmById(id: number): ManagementKeyAlgorithm | undefined {
  return (Object.keys(MANAGEMENT_KEY_ALGORITHMS) as ManagementKeyAlgorithm[]).find((a) => MANAGEMENT_KEY_ALGORITHMS[a].id === id);
}

/** A firmware version as GET VERSION answers it: major, minor, patch (Yubico). */
export type Version = readonly [number, number, number];

export function versionAtLeast(version: Version, major: number, minor = 0, patch = 0): boolean {
  const [a, b, c] = version;
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

export const formatVersion = (v: Version) => v.join('.');

/** The firmware each key algorithm arrived with (Yubico); an algorithm not listed is not a PIV key algorithm. */
const ALGORITHM_SINCE: Readonly<Record<number, Version>> = {
  [ALGORITHM.RSA1024]: [4, 0, 0],
  [ALGORITHM.RSA2048]: [4, 0, 0],
  [ALGORITHM.ECCP256]: [4, 0, 0],
  [ALGORITHM.ECCP384]: [4, 0, 0],
  [ALGORITHM.RSA3072]: [5, 7, 0],
  [ALGORITHM.RSA4096]: [5, 7, 0],
  [ALGORITHM.ED25519]: [5, 7, 0],
  [ALGORITHM.X25519]: [5, 7, 0],
};

/** The firmware a key algorithm needs; undefined for an identifier that names no key algorithm. */
export function algorithmSince(algorithm: number): Version | undefined {
  return ALGORITHM_SINCE[algorithm];
}

export function algorithmSupported(algorithm: number, firmware: Version): boolean {
  const since = ALGORITHM_SINCE[algorithm];
  return since !== undefined && versionAtLeast(firmware, ...since);
}

/** The firmware each of Yubico's extensions arrived with. */
const FEATURE_SINCE = {
  /** GET SERIAL. */
  serial: [5, 0, 0],
  /** GET METADATA. */
  metadata: [5, 3, 0],
  /** AES management keys. */
  aesManagementKey: [5, 4, 0],
  /** MOVE KEY, and with it deleting a key. */
  moveKey: [5, 7, 0],
  /** The factory management key is AES-192 (3DES before). */
  aesDefaultManagementKey: [5, 7, 0],
} satisfies Record<string, Version>;

export type FirmwareFeature = keyof typeof FEATURE_SINCE;

export function hasFeature(firmware: Version, feature: FirmwareFeature): boolean {
  return versionAtLeast(firmware, ...FEATURE_SINCE[feature]);
}

/** Yubico PIN and touch policies (values of tags AA and AB). */
export const PIN_POLICY = { default: 0x00, never: 0x01, once: 0x02, always: 0x03 } as const;
export const TOUCH_POLICY = { default: 0x00, never: 0x01, always: 0x02, cached: 0x03 } as const;

/** How long a YubiKey waits for a touch before it answers 6982 (Yubico: about 15 s). */
export const TOUCH_TIMEOUT_MS = 15_000;
export type PinPolicy = Exclude<keyof typeof PIN_POLICY, 'default'>;
export type TouchPolicy = Exclude<keyof typeof TOUCH_POLICY, 'default'>;

/** The PIN policy a slot's key gets when none is asked for (Yubico): 9C always, 9E never, the rest once. */
export function defaultPinPolicy(slot: number): PinPolicy {
  if (slot === 0x9c) return 'always';
  if (slot === 0x9e) return 'never';
  return 'once';
}

export function pinPolicyName(value: number): PinPolicy | undefined {
  return (['never', 'once', 'always'] as const).find((p) => PIN_POLICY[p] === value);
}
export function touchPolicyName(value: number): TouchPolicy | undefined {
  return (['never', 'always', 'cached'] as const).find((p) => TOUCH_POLICY[p] === value);
}

/** Tags (Part 2 §3.2.4 Table 7 for GENERAL AUTHENTICATE; §3.3.3 for GENERATE; Yubico for the rest). */
export const TAG = {
  DYNAMIC_AUTHENTICATION: 0x7c,
  WITNESS: 0x80,
  CHALLENGE: 0x81,
  RESPONSE: 0x82,
  EXPONENTIATION: 0x85,
  OBJECT_ID: 0x5c,
  OBJECT_DATA: 0x53,
  CONTROL_REFERENCE: 0xac,
  GENERATE_ALGORITHM: 0x80,
  PIN_POLICY: 0xaa,
  TOUCH_POLICY: 0xab,
  PUBLIC_KEY: 0x7f49,
  RSA_MODULUS: 0x81,
  RSA_EXPONENT: 0x82,
  EC_POINT: 0x86,
  CERTIFICATE: 0x70,
  CERT_INFO: 0x71,
  ERROR_DETECTION: 0xfe,
  APPLICATION_PROPERTY_TEMPLATE: 0x61,
  APPLICATION_IDENTIFIER: 0x4f,
  ALLOCATION_AUTHORITY: 0x79,
  // GET METADATA (Yubico)
  METADATA_ALGORITHM: 0x01,
  METADATA_POLICY: 0x02,
  METADATA_ORIGIN: 0x03,
  METADATA_PUBLIC_KEY: 0x04,
  METADATA_IS_DEFAULT: 0x05,
  METADATA_RETRIES: 0x06,
} as const;

export const KEY_ORIGIN = { generated: 0x01, imported: 0x02 } as const;

/** Factory values (Yubico). */
export const DEFAULT_PIN = '123456';
export const DEFAULT_PUK = '12345678';
export const DEFAULT_MANAGEMENT_KEY = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
/** PINs and PUKs are 6–8 bytes (Yubico: 6 at least), padded with 0xFF to 8 (Part 2 §3.2.1). */
export const PIN_LENGTH = 8;
export const PIN_MIN_LENGTH = 6;
const PIN_PADDING = 0xff;

/** A PIN or PUK as the card takes and keeps it: padded with 0xFF to 8 bytes. The caller checks its length. */
export function padPin(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(PIN_LENGTH).fill(PIN_PADDING);
  out.set(value);
  return out;
}

/** Whether a block is a padded PIN or PUK: 6–8 bytes, then 0xFF padding only. */
export function isPaddedPin(block: Uint8Array): boolean {
  if (block.length !== PIN_LENGTH) return false;
  const end = block.indexOf(PIN_PADDING);
  const length = end === -1 ? PIN_LENGTH : end;
  return length >= PIN_MIN_LENGTH && block.subarray(length).every((b) => b === PIN_PADDING);
}

/** Yubico's attestation extensions, under 1.3.6.1.4.1.41482.3. */
export const ATTESTATION_OID = {
  firmware: '1.3.6.1.4.1.41482.3.3',
  serial: '1.3.6.1.4.1.41482.3.7',
  policy: '1.3.6.1.4.1.41482.3.8',
  formFactor: '1.3.6.1.4.1.41482.3.9',
} as const;

/** Form factors as the management application and attestation report them (Yubico). */
export const FORM_FACTORS: Readonly<Record<number, string>> = {
  0x00: 'unknown',
  0x01: 'USB-A keychain',
  0x02: 'USB-A nano',
  0x03: 'USB-C keychain',
  0x04: 'USB-C nano',
  0x05: 'USB-C and Lightning',
  0x06: 'USB-A biometric',
  0x07: 'USB-C biometric',
};

/** The YubiKey 5 NFC's ATR over USB CCID. */
export const YUBIKEY_5_ATR = Uint8Array.from(Buffer.from('3bfd1300008131fe158073c021c057597562694b657940', 'hex'));
