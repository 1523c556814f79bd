/**
 * Key URIs: the grammar (RFC 7512) every scheme shares, redaction of secrets in them, the schemes
 * (pkcs11:, yubikey:) and which is which. Where a URI came from, which decides what it may make
 * Keyward do, is origin.ts.
 */
export { MAX_URI_ATTRIBUTES, MAX_URI_LENGTH, UriError, uriScheme, type AttributeKind, type AttributeSpec, type UriSchemeSpec } from './grammar.js';
export { redactUri } from './redaction.js';
export { formatPkcs11Uri, parsePkcs11Uri, PKCS11_OBJECT_TYPES, PKCS11_URI, type Pkcs11ObjectType, type Pkcs11Uri } from './pkcs11.js';
export { formatYubiKeyUri, parseYubiKeyUri, YUBIKEY_SLOT_NAMES, YUBIKEY_URI, type YubiKeyUri } from './yubikey.js';
export { KEY_URI_SCHEMES, keyUriScheme, parseKeyUri, requireKeyUriScheme, type KeyUriScheme } from './schemes.js';
