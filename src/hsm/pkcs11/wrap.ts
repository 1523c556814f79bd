/**
 * Copying a private key from one token to another without it ever being in the clear outside
 * them: PKCS#11 key wrapping, as SoftHSM 2.6.1 allows it. That module has no CKM_RSA_AES_KEY_WRAP
 * and wraps a private key only under a secret key, so the copy goes in two layers:
 *
 *   1. the destination makes an RSA transport key pair, session objects (`makeTransportKey`);
 *   2. the source's Security Officer imports the transport public key and makes an AES-256 key,
 *      both session objects marked CKA_TRUSTED, which only an SO can set (`trustTransportKey`);
 *      the AES key itself may leave only wrapped by a trusted key;
 *   3. the source's user wraps the AES key under the transport key (RSA-OAEP: SoftHSM offers it
 *      only with SHA-1) and the private key under the AES key (CKM_AES_KEY_WRAP_PAD, RFC 5649):
 *      a key made CKA_WRAP_WITH_TRUSTED leaves under nothing else (`wrapForTransport`);
 *   4. the destination unwraps both; the copy is a token object, sensitive, and again extractable
 *      only wrapped by a trusted key (`unwrapFromTransport`).
 *
 * Every ephemeral object is a session object, gone when the process is (and destroyed when done).
 */
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { ckrOf, pkcs11Call, translatePkcs11Error } from './errors.js';
import { privateKeyPolicy } from './templates.js';
import type { Token } from './token.js';
import type { Pkcs11Key } from './keys.js';

/** The transport key's size: 128-bit security, as the AES-256 and P-256/P-384 keys it carries need at least. */
export const TRANSPORT_KEY_BITS = 3072;

/** How the two layers are wrapped, for the record. */
export const WRAP_MECHANISMS = { transport: 'CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)', key: 'CKM_AES_KEY_WRAP_PAD (AES-256)' } as const;

const OAEP_PARAMETERS: pkcs11js.RsaOAEP = {
  type: pkcs11js.CK_PARAMS_RSA_OAEP,
  hashAlg: pkcs11js.CKM_SHA_1,
  mgf: pkcs11js.CKG_MGF1_SHA1,
  source: 1 /* CKZ_DATA_SPECIFIED */,
};
const OAEP: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: OAEP_PARAMETERS };
const AES_KEY_WRAP_PAD: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };
const RSA_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

/**
 * Last in the template of every ephemeral wrapping key: its attributes cannot be changed (nobody
 * gives the AES key CKA_DECRYPT, or the transport key CKA_ENCRYPT, to widen its use), nor the key
 * copied with other ones (C_CopyObject). SoftHSM 2.6.1 takes both on all five keys, but applies a
 * C_UnwrapKey template in order and refuses any attribute after CKA_MODIFIABLE false
 * (CKR_ATTRIBUTE_READ_ONLY): so it comes last.
 */
const FIXED: pkcs11js.Template = [
  { type: pkcs11js.CKA_COPYABLE, value: false },
  { type: pkcs11js.CKA_MODIFIABLE, value: false },
];
/** The destination's transport key pair, session objects. */
export interface TransportKey {
  publicKey: Buffer;
  privateKey: Buffer;
  /** SubjectPublicKeyInfo DER: what the source's SO trusts, and its fingerprint what witnesses compare. */
  spki: Buffer;
}

/** The source's trusted wrapping keys, session objects its SO made. */
export interface TrustedWrap {
  transport: Buffer;
  secret: Buffer;
}

/** What leaves the source: the AES key under the transport key, and the private key under the AES key. */
export interface Wrapped {
  secret: Buffer;
  key: Buffer;
}

/** Whether the token offers what a copy needs of it. */
export function missingWrapMechanisms(token: Token): string[] {
  const mechanisms = token.mechanisms();
  return [
    ['CKM_RSA_PKCS_KEY_PAIR_GEN', pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN],
    ['CKM_RSA_PKCS_OAEP', pkcs11js.CKM_RSA_PKCS_OAEP],
    ['CKM_AES_KEY_GEN', pkcs11js.CKM_AES_KEY_GEN],
    ['CKM_AES_KEY_WRAP_PAD', pkcs11js.CKM_AES_KEY_WRAP_PAD],
  ]
    .filter(([, mechanism]) => !mechanisms.has(mechanism as number))
    .map(([name]) => name as string);
}

/** Step 1, on the destination with its user logged in: an RSA key pair that can only unwrap (private) and wrap (public). */
export async function makeTransportKey(token: Token): Promise<TransportKey> {
  const session = token.session();
  const ctx = token.ctx('make a transport key for the copy');
  // Off the event loop: an RSA key takes a while, and the room's spinner keeps turning meanwhile.
  const pair = await token.lib
    .C_GenerateKeyPairAsync(
      session,
      { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_MODULUS_BITS, value: TRANSPORT_KEY_BITS },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_EXPONENT },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
        ...FIXED,
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_UNWRAP, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: false },
        { type: pkcs11js.CKA_SIGN, value: false },
        { type: pkcs11js.CKA_DERIVE, value: false },
        ...FIXED,
      ],
    )
    .catch((error: unknown) => {
      throw translatePkcs11Error(error, ctx);
    });
  const values = token.readAttributes(pair.publicKey, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
  const jwk = { kty: 'RSA', n: values.get(pkcs11js.CKA_MODULUS)!.toString('base64url'), e: values.get(pkcs11js.CKA_PUBLIC_EXPONENT)!.toString('base64url') };
  const spki = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  return { publicKey: pair.publicKey, privateKey: pair.privateKey, spki };
}

/**
 * Step 2, on the source with its Security Officer logged in: the transport public key imported
 * and an AES-256 key made, both trusted, public session objects (the user sees them after the SO
 * logs out; nobody else does, and they die with this process).
 */
export function trustTransportKey(token: Token, transportSpki: Buffer, warn: Warn): TrustedWrap {
  const jwk = createPublicKey({ key: transportSpki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const transport = token.createObject(
    [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_MODULUS, value: Buffer.from(jwk.n!, 'base64url') },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e!, 'base64url') },
      { type: pkcs11js.CKA_TRUSTED, value: true },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_VERIFY, value: false },
      ...FIXED,
    ],
    "trust the destination's transport key (as the Security Officer)",
  );
  let secret: Buffer;
  try {
    secret = pkcs11Call(token.ctx('make the trusted AES key of the copy (as the Security Officer)'), () =>
      token.lib.C_GenerateKey(token.session(), { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_TRUSTED, value: true },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_UNWRAP, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_DECRYPT, value: false },
        { type: pkcs11js.CKA_SIGN, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
        { type: pkcs11js.CKA_DERIVE, value: false },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true },
        ...FIXED,
      ]),
    );
  } catch (error) {
    destroySessionObjects(token, [[transport, 'trusted transport public key']], warn);
    throw error;
  }
  return { transport, secret };
}

/** Step 3, on the source with its user logged in: both layers wrapped, in memory only. */
export function wrapForTransport(token: Token, trusted: TrustedWrap, privateKey: Buffer): Wrapped {
  const session = token.session();
  const secret = pkcs11Call(token.ctx("wrap the copy's AES key under the transport key"), () =>
    token.lib.C_WrapKey(session, OAEP, trusted.transport, trusted.secret, Buffer.alloc(TRANSPORT_KEY_BITS / 8)),
  );
  const key = pkcs11Call(token.ctx('wrap the private key under the trusted AES key'), () =>
    token.lib.C_WrapKey(session, AES_KEY_WRAP_PAD, trusted.secret, privateKey, Buffer.alloc(16384)),
  );
  return { secret, key };
}

/** What the copy is on the destination: the source key's type, id and the label it takes. */
export interface CopyTarget {
  keyType: number;
  id: Buffer;
  label: string;
}

/**
 * Step 4, on the destination with its user logged in: the AES key unwrapped (a session object
 * that can only unwrap), then the private key as a token object with Keyward's private key policy,
 * extractable again only wrapped by a trusted key. Returns the new private key's handle.
 */
export function unwrapFromTransport(token: Token, transport: TransportKey, wrapped: Wrapped, target: CopyTarget, warn: Warn): Buffer {
  const session = token.session();
  const secret = pkcs11Call(token.ctx("unwrap the copy's AES key with the transport key"), () =>
    token.lib.C_UnwrapKey(session, OAEP, transport.privateKey, wrapped.secret, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: true },
      { type: pkcs11js.CKA_WRAP, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      ...FIXED,
    ]),
  );
  try {
    return pkcs11Call(token.ctx('unwrap the private key onto the token'), () =>
      token.lib.C_UnwrapKey(session, AES_KEY_WRAP_PAD, secret, wrapped.key, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: target.keyType },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_ID, value: target.id },
        { type: pkcs11js.CKA_LABEL, value: target.label },
        ...privateKeyPolicy('wrap'),
      ]),
    );
  } finally {
    destroySessionObjects(token, [[secret, "copy's AES key"]], warn);
  }
}

/** The public key object beside a copied private key, from the source key's public attributes (an unwrapped EC key has no point). */
export function copyPublicKey(token: Token, source: Pkcs11Key, target: CopyTarget): Buffer {
  const from = source.publicKey ?? source.privateKey!;
  const types = target.keyType === pkcs11js.CKK_RSA ? [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT] : [pkcs11js.CKA_EC_PARAMS, pkcs11js.CKA_EC_POINT];
  const values = source.token.readAttributes(from, types);
  return token.createObject(
    [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: target.keyType },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_ID, value: target.id },
      { type: pkcs11js.CKA_LABEL, value: target.label },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_WRAP, value: false },
      ...types.map((type) => ({ type, value: values.get(type)! })),
    ],
    `store the public key of the copy "${target.label}"`,
  );
}

/** Told what went wrong that does not stop the copy (an ephemeral object left); the keystore's warning channel. */
export type Warn = (message: string) => void;

/**
 * Destroys objects a copy made and no longer needs, each named for `warn`. One already gone (a
 * session object whose session closed) is no loss; any other failure is told to `warn`, and the
 * others are still destroyed.
 */
export function destroySessionObjects(token: Token, objects: Array<[handle: Buffer | undefined, what: string]>, warn: Warn): void {
  for (const [handle, what] of objects) {
    if (!handle) continue;
    try {
      token.lib.C_DestroyObject(token.session(), handle);
    } catch (error) {
      const ckr = ckrOf(error);
      if (ckr === 'CKR_OBJECT_HANDLE_INVALID') continue;
      warn(`could not destroy the ${what} on token "${token.label}" (${ckr ?? (error as Error).message}); a session object is gone when this process ends`);
    }
  }
}
