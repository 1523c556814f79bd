/**
 * pkcs11: (RFC 7512 §2.3), to the letter, so that URIs printed by p11tool, p11-kit or OpenSSL's
 * pkcs11 engine work verbatim, and the other way round.
 */
import type { Secret } from '../../secret.js';
import { defineScheme, TEXT, type UriSchemeSpec } from './grammar.js';

export const PKCS11_OBJECT_TYPES = ['public', 'private', 'cert', 'secret-key', 'data'] as const;
export type Pkcs11ObjectType = (typeof PKCS11_OBJECT_TYPES)[number];

export interface Pkcs11Uri {
  // token and library (path)
  model?: string;
  manufacturer?: string;
  serial?: string;
  token?: string;
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: string;
  slotDescription?: string;
  slotManufacturer?: string;
  slotId?: number;
  // object (path)
  id?: Uint8Array;
  object?: string;
  type?: Pkcs11ObjectType;
  // query
  pinSource?: string;
  /** Accepted because the RFC defines it, but a PIN in a URI ends up in shell history: warned about. */
  pinValue?: Secret;
  moduleName?: string;
  modulePath?: string;
  vendor?: Record<string, string>;
}

export const PKCS11_URI: UriSchemeSpec = {
  scheme: 'pkcs11',
  title: 'PKCS#11 URI',
  example: '"pkcs11:token=my-token;object=my-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so"',
  // Printed in the order p11tool prints them.
  path: [
    { name: 'model', field: 'model', type: TEXT },
    { name: 'manufacturer', field: 'manufacturer', type: TEXT },
    { name: 'serial', field: 'serial', type: TEXT },
    { name: 'token', field: 'token', type: TEXT },
    { name: 'library-manufacturer', field: 'libraryManufacturer', type: TEXT },
    { name: 'library-description', field: 'libraryDescription', type: TEXT },
    { name: 'library-version', field: 'libraryVersion', type: { kind: 'version' } },
    { name: 'slot-description', field: 'slotDescription', type: TEXT },
    { name: 'slot-manufacturer', field: 'slotManufacturer', type: TEXT },
    { name: 'slot-id', field: 'slotId', type: { kind: 'uint' } },
    { name: 'id', field: 'id', type: { kind: 'bytes' }, alwaysPercentEncode: true },
    { name: 'object', field: 'object', type: TEXT },
    { name: 'type', field: 'type', type: { kind: 'enum', values: PKCS11_OBJECT_TYPES } },
  ],
  query: [
    { name: 'pin-source', field: 'pinSource', type: TEXT },
    { name: 'pin-value', field: 'pinValue', type: { kind: 'secret' } },
    { name: 'module-name', field: 'moduleName', type: TEXT },
    { name: 'module-path', field: 'modulePath', type: TEXT },
  ],
};

export const pkcs11Uri = defineScheme<Pkcs11Uri>(PKCS11_URI);
export const parsePkcs11Uri = pkcs11Uri.parse;
/** Prints a URI that p11tool, p11-kit and OpenSSL's pkcs11 engine accept. Never prints pin-value. */
export const formatPkcs11Uri = pkcs11Uri.format;
