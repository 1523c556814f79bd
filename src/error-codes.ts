/**
 * Every error code Keyward reports, each with the exit code it always has and what it means, and the
 * exit codes themselves. `keyward help errors` prints the codes, `keyward --help` the exit codes;
 * scripts read the code of a failure from `--json` output (`{"error": {"code": …}}`).
 *
 * To report a new failure: add its code here (kept in alphabetical order, a test checks), with the
 * exit code it means and one line on what happened, then `throw keywardError('CODE', message, { hint })`
 * (src/errors.ts). The code is a literal at the place it is thrown, so grep finds it; an unknown code
 * does not compile, and the error's class and exit code come from here, so they cannot disagree with
 * another place that throws the same code. A code means one thing: a failure that means something
 * else, or asks for another exit code, gets a code of its own.
 *
 * This module has no dependencies: `keyward --help` loads it.
 */

/**
 * Exit codes of the `keyward` binary, each with what it means; also the classification of every
 * error. `keyward --help` prints this table.
 */
export const EXIT_CODES = {
  ok: { code: 0, meaning: 'success' },
  /** Something unexpected: a bug, or a device error we could not classify. */
  failure: { code: 1, meaning: 'unexpected failure (a bug or an unclassified device error; --debug shows more)' },
  /** The request itself is wrong. */
  usage: {
    code: 2,
    meaning:
      'bad request: unknown command, invalid option, malformed URI, CSR, certificate or ca.json, unsupported algorithm, a PKCS#11 module a file names but you did not allow, a destructive command with no one to confirm it and no --yes',
  },
  /** What was asked for does not exist. */
  notFound: { code: 3, meaning: 'not found: no such token, key, slot or certificate' },
  /** Authentication failed or is impossible. */
  auth: { code: 4, meaning: 'authentication: wrong or locked PIN, no PIN source, last PIN try kept, touch timed out' },
  /** A device, module, reader or service is not available. */
  unavailable: { code: 5, meaning: 'unavailable: PKCS#11 module, PC/SC service, reader or device missing' },
  /** A signature, certificate or chain did not verify. */
  verification: { code: 6, meaning: 'verification failed: a signature, a chain, an attestation, a join token' },
  /** The request conflicts with what exists. */
  conflict: { code: 7, meaning: 'conflict: label or slot in use, ambiguous match, a CA that already exists' },
  /** The user said no, or interrupted. */
  cancelled: { code: 130, meaning: 'cancelled' },
} as const;

/** The name of an exit code: `usage` is 2. */
export type ExitKind = keyof typeof EXIT_CODES;

/** The exit codes by name: `ExitCode.usage` is 2. */
export const ExitCode = Object.fromEntries(Object.entries(EXIT_CODES).map(([name, { code }]) => [name, code])) as {
  readonly [Name in ExitKind]: (typeof EXIT_CODES)[Name]['code'];
};
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What the table says of a code: the exit code it has (by name) and what it means. */
export interface ErrorCodeEntry {
  exit: Exclude<ExitKind, 'ok'>;
  meaning: string;
}

/**
 * Every error code, alphabetically. `exit` names the exit code (EXIT_CODES) and with it the error's
 * class: UsageError for `usage`, NotFoundError for `notFound`, AuthError, UnavailableError,
 * VerificationError, ConflictError, CancelledError, and KeywardError for `failure`; a few codes
 * belong to a class of their own that says more (URI_MALFORMED to UriError, PIN_INCORRECT and
 * PUK_INCORRECT from a card to PinIncorrectError, TOUCH_TIMEOUT to TouchTimeoutError,
 * CARD_RESPONSE_MALFORMED to CardResponseError, the TUF_ codes of refused metadata to TrustError).
 */
export const ERROR_CODES = {
  ADDRESS_UNAVAILABLE: { exit: 'unavailable', meaning: 'the CA server cannot listen on that address: no such address on this machine' },
  ALGORITHM_MISMATCH: { exit: 'usage', meaning: 'WebCrypto asked a key to sign with another algorithm than its own' },
  ALGORITHM_UNSUPPORTED: { exit: 'usage', meaning: 'an unknown key algorithm, or one this token or YubiKey firmware cannot generate' },
  ARGUMENT_MISSING: { exit: 'usage', meaning: 'a command-line argument the command needs is missing' },
  ATTESTATION_EXPIRED: { exit: 'verification', meaning: 'a certificate of the attestation chain has expired' },
  ATTESTATION_INVALID: { exit: 'verification', meaning: 'the attestation chain is broken: a wrong signature, a non-CA issuer or a path too long' },
  ATTESTATION_KEY_MISMATCH: { exit: 'verification', meaning: 'the attestation is for another key than the one in the slot' },
  ATTESTATION_MALFORMED: { exit: 'verification', meaning: 'a certificate of the attestation is not a valid certificate' },
  ATTESTATION_ROOTS_UNREADABLE: { exit: 'notFound', meaning: 'a file of KEYWARD_ATTESTATION_ROOTS cannot be read' },
  ATTESTATION_UNSUPPORTED: { exit: 'usage', meaning: 'this key cannot be attested (a PKCS#11 token, or a key in memory)' },
  ATTESTATION_UNTRUSTED: { exit: 'verification', meaning: 'the attestation does not chain to a trusted root: an intermediate or the root is missing' },
  AUTH_KEY_FORMAT: { exit: 'usage', meaning: "the CA server's authsign key is not hex of at least 16 bytes" },
  AUTHSIGN_NEEDS_KEY: { exit: 'usage', meaning: 'the CA server was told to require authenticated signing but given no HMAC key' },
  BINARY_TO_TERMINAL: { exit: 'usage', meaning: 'binary output would go to the terminal: give --out or redirect it' },
  BOOTSTRAP_NEEDS_MTLS: { exit: 'usage', meaning: 'a bootstrap root for the CA server needs mutual TLS' },
  BOOTSTRAP_ROOT_EXPIRED: { exit: 'usage', meaning: "the CA server's bootstrap root has expired" },
  BOOTSTRAP_ROOT_INVALID: { exit: 'usage', meaning: "the CA server's bootstrap root is not one self-signed CA certificate" },
  CA_CONFIG_CORRUPT: { exit: 'usage', meaning: "a CA directory's ca.json is not valid JSON" },
  CA_CONFIG_INVALID: { exit: 'usage', meaning: "a CA directory's ca.json has a missing or wrong field" },
  CA_EXPIRES_TOO_SOON: { exit: 'usage', meaning: 'the cluster CA expires too soon for Docker Swarm to accept it' },
  CA_FILE_MISSING: { exit: 'notFound', meaning: 'a file the CA directory should hold is missing' },
  CA_KEY_MISMATCH: { exit: 'usage', meaning: 'a CA certificate is not for the key that should sign with it' },
  CA_NOT_FOR_SWARM: { exit: 'usage', meaning: 'the CA directory has no cluster CA certificate for a swarm to trust' },
  CA_NOT_FOUND: { exit: 'notFound', meaning: 'the directory is not a Keyward CA directory (no ca.json)' },
  CA_NOT_READY: { exit: 'notFound', meaning: 'the CA has no intermediate (or no root key) yet for this step' },
  CA_ROOT_EXISTS: { exit: 'conflict', meaning: 'the CA directory already holds a root' },
  CA_SERVER_UNREACHABLE: { exit: 'unavailable', meaning: "nothing answers at the CA server's address, so a swarm would refuse the rotation" },
  CA_SERVER_UNTRUSTED: { exit: 'verification', meaning: 'the CA server does not present a certificate of this cluster CA for its host name' },
  CA_SERVES_OTHER_CLUSTER: { exit: 'conflict', meaning: 'the CA directory already serves another cluster than the one named' },
  CANCELLED: { exit: 'cancelled', meaning: 'the person at the keyboard said no, or interrupted' },
  CANONICAL_JSON_NUMBER: { exit: 'usage', meaning: 'TUF canonical JSON has integers only, and a value is not one' },
  CANONICAL_JSON_TYPE: { exit: 'usage', meaning: 'a value has a type canonical JSON cannot encode' },
  CARD_GONE: { exit: 'unavailable', meaning: 'the card was removed or reset during the operation' },
  CARD_IN_USE: { exit: 'conflict', meaning: "another program holds the card exclusively: gpg's scdaemon, or a command waiting for a touch" },
  CARD_MEMORY: { exit: 'failure', meaning: 'the card is out of memory' },
  CARD_NOT_AUTHENTIC: { exit: 'auth', meaning: 'the card answered the management key challenge wrongly: it does not hold the same key' },
  CARD_REJECTED_DATA: { exit: 'usage', meaning: 'the card rejected the data sent (wrong algorithm or length for the slot)' },
  CARD_RESPONSE_MALFORMED: { exit: 'failure', meaning: 'the card answered something PIV does not allow' },
  CARD_TIMEOUT: { exit: 'failure', meaning: 'the card did not answer in time' },
  CARD_WRONG_LENGTH: { exit: 'usage', meaning: "the card says a command's length is wrong" },
  CERTIFICATE_KEY_MISMATCH: { exit: 'usage', meaning: 'a certificate to store with a key is for another key' },
  CERTIFICATE_MALFORMED: { exit: 'usage', meaning: 'a certificate is not valid DER X.509' },
  CERTIFICATE_MISSING: { exit: 'usage', meaning: 'a file given for certificates holds none, in PEM or DER' },
  CERTIFICATE_NOT_FOUND: { exit: 'notFound', meaning: 'no certificate is stored with the key, or none with that serial was issued' },
  CLUSTER_ID_INVALID: { exit: 'usage', meaning: 'a cluster ID that is not 1 to 64 letters, digits, ".", "_" or "-"' },
  CLUSTER_MISMATCH: { exit: 'usage', meaning: "a node's CSR or request asks for another cluster than the CA's" },
  CONDITIONS_NOT_SATISFIED: { exit: 'conflict', meaning: 'the card refuses the command in its current state' },
  CONFIRMATION_REQUIRED: { exit: 'usage', meaning: 'a destructive command with no one to confirm it and no --yes' },
  CSR_CLUSTER_MISMATCH: { exit: 'usage', meaning: "the intermediate's CSR was made for another cluster" },
  CSR_KEY_NOT_ALLOWED: { exit: 'usage', meaning: "the CSR's key type or size is not one the CA accepts" },
  CSR_MALFORMED: { exit: 'usage', meaning: 'the certificate request does not decode as a PKCS#10 CSR' },
  CSR_SIGNATURE_ALGORITHM: { exit: 'usage', meaning: 'the CSR is signed with an algorithm the CA does not accept' },
  CSR_SIGNATURE_INVALID: { exit: 'verification', meaning: "the CSR's self-signature does not verify" },
  DATA_LENGTH: { exit: 'usage', meaning: "the token refused the input's length for this mechanism" },
  DEMO_FAILED: { exit: 'failure', meaning: 'a step of keyward demo failed' },
  DEVICE_GENERAL_ERROR: { exit: 'failure', meaning: 'the PKCS#11 module reported a general error (SoftHSM: often its token directory)' },
  DEVICE_MEMORY: { exit: 'failure', meaning: 'the token is out of memory' },
  EXPOSED_WITHOUT_AUTH: { exit: 'usage', meaning: 'the CA server would sign for anyone who can reach it: no mutual TLS or authsign key' },
  EXPOSED_WITHOUT_TLS: { exit: 'usage', meaning: 'the CA server would serve plain HTTP beyond this machine' },
  FUNCTION_UNSUPPORTED: { exit: 'usage', meaning: 'the PKCS#11 module does not implement the function needed' },
  HARDWARE_KEY_OPERATION: { exit: 'usage', meaning: 'WebCrypto asked a hardware key for something other than signing (export, decrypt…)' },
  HASH_UNSUPPORTED: { exit: 'usage', meaning: 'an unknown hash name' },
  ID_IN_USE: { exit: 'conflict', meaning: 'the token already has objects with that CKA_ID' },
  INPUT_NOT_A_FILE: { exit: 'usage', meaning: 'a file a command should read is a directory' },
  INPUT_UNREADABLE: { exit: 'notFound', meaning: 'an input file is missing or cannot be read' },
  INTERMEDIATE_KEY_OR_CSR: { exit: 'usage', meaning: 'an intermediate needs either its key (--key) or its CSR (--csr)' },
  INTERMEDIATE_NOT_FOR_CLUSTER: { exit: 'verification', meaning: 'a certificate to install is not a cluster intermediate constrained to this cluster' },
  INTERMEDIATE_UNTRUSTED: { exit: 'verification', meaning: 'a certificate to install was not issued by a root of the root CA directory' },
  JOIN_TOKEN_MALFORMED: { exit: 'usage', meaning: 'not a Docker Swarm join token' },
  JOIN_TOKEN_ROOT_MISMATCH: { exit: 'verification', meaning: 'the join token pins another root CA than the bundle' },
  KEY_AMBIGUOUS: { exit: 'conflict', meaning: 'more than one key matches the URI' },
  KEY_GENERATION_LOST: { exit: 'failure', meaning: 'the token reported a key generated but the key cannot be found' },
  KEY_NOT_FOUND: { exit: 'notFound', meaning: 'no key matches the URI (on the token, or in the YubiKey slot)' },
  KEY_NOT_NAMED: { exit: 'usage', meaning: 'a URI for one key names a token but no key (no object= or id=)' },
  KEY_SIZE_UNSUPPORTED: { exit: 'usage', meaning: 'the device does not support this key size' },
  KEY_TYPE_MISMATCH: { exit: 'usage', meaning: "the key's type does not fit the operation" },
  KEY_TYPE_UNKNOWN: { exit: 'usage', meaning: "the slot's key type is unknown (firmware before 5.3, without a certificate)" },
  KEY_TYPE_UNSUPPORTED: { exit: 'usage', meaning: 'a key type Keyward cannot use for this (sign, import, certify)' },
  KEY_USE_FORBIDDEN: { exit: 'usage', meaning: "the key's attributes do not permit the operation" },
  LABEL_IN_USE: { exit: 'conflict', meaning: 'the token already has a key with that label' },
  LABEL_INVALID: { exit: 'usage', meaning: 'a token label that is not 1 to 32 bytes' },
  LABEL_REQUIRED: { exit: 'usage', meaning: 'a new key needs a label (object= in the URI)' },
  LINK_REFUSED: { exit: 'usage', meaning: 'a symbolic link inside a CA directory, which Keyward neither reads nor writes through' },
  LISTEN_FAILED: { exit: 'unavailable', meaning: 'the CA server cannot listen on that address' },
  LISTEN_INVALID: { exit: 'usage', meaning: '--listen is not host:port' },
  LOGIN_REQUIRED: { exit: 'auth', meaning: 'the token needs a PIN for the operation' },
  MANAGEMENT_KEY_BLOCKED: { exit: 'auth', meaning: "the YubiKey's management key authentication is blocked" },
  MANAGEMENT_KEY_FORMAT: { exit: 'usage', meaning: 'a management key that is not hex' },
  MANAGEMENT_KEY_INCORRECT: { exit: 'auth', meaning: "the YubiKey's management key is wrong" },
  MANAGEMENT_KEY_LENGTH: { exit: 'usage', meaning: 'a management key of the wrong length for its algorithm' },
  MANAGEMENT_KEY_REQUIRED: { exit: 'auth', meaning: 'the YubiKey needs its management key and none was given or could be asked for' },
  MECHANISM_PARAM_INVALID: { exit: 'usage', meaning: "the token refused the mechanism's parameters" },
  MECHANISM_UNSUPPORTED: { exit: 'usage', meaning: 'the token does not offer the mechanism needed' },
  MODULE_ALLOW_LIST_INSECURE: { exit: 'usage', meaning: 'the PKCS#11 module allow-list may be written by others than root, so it is not honoured' },
  MODULE_ALLOW_LIST_INVALID: { exit: 'usage', meaning: 'a line of the PKCS#11 module allow-list is not an absolute path' },
  MODULE_LOAD_FAILED: { exit: 'unavailable', meaning: 'the PKCS#11 module cannot be loaded' },
  MODULE_NOT_ALLOWED: { exit: 'usage', meaning: 'a key URI read from a file names a PKCS#11 module you did not allow' },
  MODULE_NOT_FOUND: { exit: 'unavailable', meaning: 'no PKCS#11 module at that path or name, or none named and SoftHSM2 not installed' },
  MODULE_REGISTRY_INSECURE: { exit: 'usage', meaning: 'a p11-kit registration may be written by others than root, so it is not honoured' },
  MTLS_NEEDS_TLS: { exit: 'usage', meaning: 'client certificates for the CA server need HTTPS' },
  NO_ATTESTATION_INTERMEDIATES: { exit: 'usage', meaning: "this virtual YubiKey's firmware attests straight under its root: no intermediates to write" },
  NO_FREE_SLOT: { exit: 'conflict', meaning: 'no slot holds an uninitialised token' },
  NO_PENDING_INTERMEDIATE: { exit: 'notFound', meaning: 'the CA directory is not waiting for an intermediate certificate' },
  NO_READER: { exit: 'unavailable', meaning: 'no smart-card reader is available' },
  NO_ROTATION: { exit: 'conflict', meaning: 'no root rotation is under way' },
  NODE_DAYS_INVALID: { exit: 'usage', meaning: 'a node certificate validity that is not a whole number of days in range' },
  NODE_ID_INVALID: { exit: 'usage', meaning: 'a node ID that is not 1 to 64 letters, digits, ".", "_" or "-"' },
  NODE_ID_MISMATCH: { exit: 'usage', meaning: 'the CSR names another node than the request' },
  NOT_A_DIRECTORY: { exit: 'usage', meaning: 'something other than a directory where a CA directory keeps one' },
  NOT_A_PRIVATE_KEY: { exit: 'usage', meaning: 'the object has no private key on the token, so it cannot sign' },
  NOT_A_REGULAR_FILE: { exit: 'usage', meaning: 'something other than a regular file where a CA directory keeps one' },
  OBJECT_GONE: { exit: 'notFound', meaning: 'the object or key no longer exists on the token (deleted by another program?)' },
  OBJECT_TYPE_INVALID: { exit: 'usage', meaning: 'key generation was given a URI with type= (it makes a key pair)' },
  OBJECT_TYPE_UNSUPPORTED: { exit: 'usage', meaning: 'a URI names secret-key or data objects, which Keyward does not work with' },
  OPTION_INVALID: { exit: 'usage', meaning: "an option's value is not one it takes: not among its choices, or not a whole number in range" },
  OPTION_MISSING: { exit: 'usage', meaning: 'an option this command needs is missing' },
  OPTION_VALUE_MISSING: { exit: 'usage', meaning: 'an option that takes a value was given none' },
  OPTIONS_CONFLICT: { exit: 'usage', meaning: 'two options that exclude each other were both given' },
  OTHER_USER_LOGGED_IN: { exit: 'conflict', meaning: 'another user (the SO) is logged in to the token' },
  OUT_REQUIRED: { exit: 'usage', meaning: 'the command needs --out to say where to write' },
  OUTPUT_DANGLING_LINK: { exit: 'usage', meaning: 'the output is a symbolic link to nothing' },
  OUTPUT_DIRECTORY_MISSING: { exit: 'usage', meaning: 'the directory an output file goes in does not exist, or a part of its path is no directory' },
  OUTPUT_DIRECTORY_NOT_WRITABLE: { exit: 'usage', meaning: 'this user may not create files in the directory an output file goes in' },
  OUTPUT_NOT_A_FILE: { exit: 'usage', meaning: 'the output is a FIFO, device, directory or socket: Keyward writes only regular files' },
  OUTPUT_NOT_WRITABLE: { exit: 'usage', meaning: 'the output file exists and this user may not write it' },
  OUTPUT_UNUSABLE: { exit: 'usage', meaning: 'the output path cannot be used: too many links, a name too long' },
  OUTPUT_WRITE_FAILED: { exit: 'failure', meaning: 'writing an output file failed after its checks: a full disk, a directory changed' },
  PADDING_INVALID: { exit: 'usage', meaning: 'a padding was given for a key that is not RSA' },
  PCSC_ERROR: { exit: 'unavailable', meaning: 'PC/SC failed in a way Keyward does not recognise' },
  PCSC_NOT_RUNNING: { exit: 'unavailable', meaning: 'the PC/SC service (pcscd) is not running' },
  PEM_LABEL: { exit: 'usage', meaning: 'a PEM block of another kind than expected' },
  PEM_MALFORMED: { exit: 'usage', meaning: 'a PEM block that is not valid base64' },
  PEM_TRUNCATED: { exit: 'usage', meaning: 'a PEM block with no END line' },
  PIN_EMPTY: { exit: 'usage', meaning: 'the PIN file is empty' },
  PIN_EXPIRED: { exit: 'auth', meaning: "the token's PIN has expired" },
  PIN_FILE_TOO_LARGE: { exit: 'usage', meaning: 'the PIN file holds more than any PIN' },
  PIN_FINAL_TRY: { exit: 'auth', meaning: 'the PIN has one try left, and Keyward was not allowed to spend it' },
  PIN_INCORRECT: { exit: 'auth', meaning: 'wrong PIN (the tries left are in the message)' },
  PIN_INVALID: { exit: 'usage', meaning: 'the PIN has characters the token does not accept' },
  PIN_LENGTH: { exit: 'usage', meaning: 'a PIN of a length the token or card does not accept' },
  PIN_LOCKED: { exit: 'auth', meaning: 'the user PIN is locked' },
  PIN_MISMATCH: { exit: 'usage', meaning: 'the two entries of a new PIN differ' },
  PIN_NOT_INITIALIZED: { exit: 'auth', meaning: 'the token has no user PIN yet' },
  PIN_REQUIRED: { exit: 'auth', meaning: 'a PIN is needed and there is no source for it and no terminal to ask' },
  PIN_REUSED: { exit: 'usage', meaning: 'the SO PIN and the user PIN must differ' },
  PIN_SOURCE_UNREADABLE: { exit: 'notFound', meaning: 'the PIN file cannot be read' },
  PIN_SOURCE_UNSUPPORTED: { exit: 'usage', meaning: 'a pin-source that is not file:…' },
  PIV_NOT_FOUND: { exit: 'notFound', meaning: 'the card has no such object or key' },
  PIV_STATUS: { exit: 'failure', meaning: 'the card answered a status word Keyward does not recognise' },
  PIV_UNSUPPORTED: { exit: 'usage', meaning: "this YubiKey's firmware does not support the operation" },
  PKCS11_FAILURE: { exit: 'failure', meaning: 'a PKCS#11 call failed without a CKR_ value' },
  PKCS11_MODULE_ERROR: { exit: 'failure', meaning: 'the PKCS#11 module returned a CKR_ value Keyward does not translate (named in the message)' },
  POLICY_UNSUPPORTED: { exit: 'usage', meaning: 'PIN and touch policies and --overwrite were given for a PKCS#11 token' },
  PORT_FORBIDDEN: { exit: 'unavailable', meaning: 'the CA server may not listen on that port' },
  PORT_IN_USE: { exit: 'unavailable', meaning: "another process listens on the CA server's port" },
  PUBLIC_KEY_MALFORMED: { exit: 'failure', meaning: 'the device returned a public key of a form Keyward does not read' },
  PUBLIC_KEY_MISSING: { exit: 'usage', meaning: 'a file given for a public key holds none, in PEM or DER' },
  PUBLIC_KEY_UNAVAILABLE: { exit: 'notFound', meaning: 'the device has no public key for the key: no public object or slot metadata, and no certificate' },
  PUK_FINAL_TRY: { exit: 'auth', meaning: 'the PUK has one try left, and Keyward was not allowed to spend it' },
  PUK_INCORRECT: { exit: 'auth', meaning: 'wrong PUK (the tries left are in the message)' },
  PUK_LENGTH: { exit: 'usage', meaning: 'a PUK that is not 6 to 8 characters' },
  RETRIES_INVALID: { exit: 'usage', meaning: 'PIN or PUK tries outside 1 to 255' },
  ROLE_INVALID: { exit: 'usage', meaning: 'a node role that is not manager or worker' },
  ROLE_MISMATCH: { exit: 'usage', meaning: 'the CSR asks for another node role than the request' },
  ROLE_REQUIRED: { exit: 'usage', meaning: 'neither the request nor the CSR names a node role' },
  ROOT_KEY_MISMATCH: { exit: 'usage', meaning: "the key given is not the key of the CA's root" },
  ROOT_KEY_REQUIRED: { exit: 'usage', meaning: "the root's CRL needs the root key" },
  ROTATION_IN_PROGRESS: { exit: 'conflict', meaning: 'a root rotation is already under way' },
  ROTATION_NOT_READY: { exit: 'conflict', meaning: 'the rotation cannot finish: the cluster intermediate is still issued by the old root' },
  ROTATION_SAME_KEY: { exit: 'usage', meaning: 'the new root key is the old one' },
  RSA_TOO_SHORT: { exit: 'failure', meaning: 'the RSA modulus is too short for the hash (and salt)' },
  SECRET_REQUIRED: { exit: 'auth', meaning: 'a new PIN or key is needed and there is no source for it and no terminal to ask' },
  SECURITY_STATUS: { exit: 'auth', meaning: 'the card wants the PIN (or a touch) first' },
  SERIAL_IN_USE: { exit: 'conflict', meaning: 'a certificate serial was issued before; a serial is never issued twice' },
  SERIAL_INVALID: { exit: 'usage', meaning: 'a serial number that is not hex' },
  SIGNATURE_INVALID: { exit: 'verification', meaning: 'the token says the signature is invalid' },
  SIGNATURE_MALFORMED: { exit: 'failure', meaning: 'an ECDSA signature that is not valid DER or raw r‖s' },
  SLOT_IN_USE: { exit: 'conflict', meaning: 'the YubiKey slot already holds a key (--overwrite replaces it)' },
  SLOT_INVALID: { exit: 'usage', meaning: 'not a PIV key slot' },
  SLOT_NOT_FOUND: { exit: 'notFound', meaning: 'no such PKCS#11 slot' },
  SLOT_REQUIRED: { exit: 'usage', meaning: 'a URI for one key names a YubiKey but no slot' },
  SUBJECT_INVALID: { exit: 'usage', meaning: 'a subject that is not a distinguished name, or a cfssl subject Keyward cannot use' },
  SWARM_PATH_UNSUPPORTED: { exit: 'usage', meaning: 'a path the Docker CLI cannot take in --external-ca (a comma or a quote)' },
  SWARM_URL_INVALID: { exit: 'usage', meaning: "the external CA URL is not a URL of cfssl's signing endpoint" },
  SWARM_URL_NOT_HTTPS: { exit: 'usage', meaning: 'SwarmKit reaches an external CA over HTTPS only' },
  TEMPLATE_REFUSED: { exit: 'usage', meaning: 'the token refused an attribute template' },
  TIME_INVALID: { exit: 'usage', meaning: '--time is not a date and time' },
  TOKEN_ALREADY_INITIALIZED: { exit: 'conflict', meaning: "the slot's token is already initialised; Keyward never re-initialises one" },
  TOKEN_AMBIGUOUS: { exit: 'conflict', meaning: 'more than one token matches the URI' },
  TOKEN_LABEL_IN_USE: { exit: 'conflict', meaning: 'a token with that label already exists' },
  TOKEN_NOT_FOUND: { exit: 'notFound', meaning: 'no initialised token matches the URI' },
  TOKEN_NOT_PRESENT: { exit: 'unavailable', meaning: 'the token is not present' },
  TOKEN_NOT_RECOGNIZED: { exit: 'unavailable', meaning: 'the PKCS#11 module does not recognise the token' },
  TOKEN_READ_ONLY: { exit: 'conflict', meaning: 'the token is write-protected' },
  TOKEN_REMOVED: { exit: 'unavailable', meaning: 'the token was removed during the operation' },
  TOO_MANY_ARGUMENTS: { exit: 'usage', meaning: 'a command was given more arguments than it takes' },
  TOUCH_TIMEOUT: { exit: 'auth', meaning: 'the YubiKey was not touched in time' },
  TUF_CLIENT_INITIALISED: { exit: 'conflict', meaning: 'the TUF client already trusts another root; a new one comes only through signed rotations' },
  TUF_CUSTOM: { exit: 'usage', meaning: '--custom is not a JSON object' },
  TUF_DELEGATION_SCOPE: { exit: 'usage', meaning: 'a delegation needs either path patterns or hash prefixes' },
  TUF_EXPIRED: { exit: 'verification', meaning: 'TUF metadata has expired' },
  TUF_EXPIRY: { exit: 'usage', meaning: '--expiry is not role=days' },
  TUF_HASH_MISMATCH: { exit: 'verification', meaning: 'a TUF file is not the one the signed metadata describes' },
  TUF_HTTP_STATUS: { exit: 'unavailable', meaning: 'the TUF repository answered an HTTP status other than 200, 403 or 404' },
  TUF_KEY_ID: { exit: 'verification', meaning: 'a TUF key id is not the SHA-256 of its canonical key' },
  TUF_KEY_MOVED: { exit: 'conflict', meaning: 'a key URI recorded for a TUF role no longer holds that key' },
  TUF_KEY_NOT_IN_ROLE: { exit: 'notFound', meaning: 'the key is not a key of that TUF role' },
  TUF_KEY_TYPE: { exit: 'usage', meaning: "the key's type cannot sign TUF metadata" },
  TUF_KEY_UNKNOWN: { exit: 'notFound', meaning: 'the TUF role has no key with that id' },
  TUF_LENGTH: { exit: 'verification', meaning: 'a TUF file is longer than its signed metadata allows' },
  TUF_MALFORMED: { exit: 'verification', meaning: 'a file is not valid TUF 1.0 metadata' },
  TUF_METADATA_MISSING: { exit: 'notFound', meaning: 'the TUF repository lacks a metadata file, or was never published' },
  TUF_NETWORK: { exit: 'unavailable', meaning: 'the TUF repository cannot be reached' },
  TUF_NOT_FOUND: { exit: 'notFound', meaning: 'the TUF repository does not have the metadata or target asked for' },
  TUF_NOTHING_STAGED: { exit: 'usage', meaning: 'the TUF repository has no staged changes to sign' },
  TUF_ONLINE_KEY: { exit: 'unavailable', meaning: 'fewer keys of a TUF role can be opened here than its threshold' },
  TUF_PATH_NOT_DELEGATED: { exit: 'usage', meaning: 'a target path is not delegated to the role' },
  TUF_REPO_CONFIG_INVALID: { exit: 'usage', meaning: "the TUF repository's .keyward/repo.json is invalid" },
  TUF_REPO_EXISTS: { exit: 'conflict', meaning: 'the directory already holds a TUF repository' },
  TUF_REPO_FORMAT: { exit: 'usage', meaning: "the TUF repository's format is not one this Keyward reads" },
  TUF_REPO_MISSING: { exit: 'notFound', meaning: 'the directory is not a Keyward TUF repository' },
  TUF_ROLE_EXISTS: { exit: 'conflict', meaning: 'a TUF role with that name already exists' },
  TUF_ROLE_UNKNOWN: { exit: 'notFound', meaning: 'no such TUF role, or none delegates to it' },
  TUF_ROLLBACK: { exit: 'verification', meaning: 'the TUF repository serves older metadata than the client trusts' },
  TUF_SIGNATURE: { exit: 'verification', meaning: 'a TUF signature does not verify' },
  TUF_SIGNING_KEY: { exit: 'notFound', meaning: 'no key of the TUF role is recorded in the repository' },
  TUF_STAGED_EXPIRED: { exit: 'conflict', meaning: 'staged TUF metadata expired before it was published' },
  TUF_STAGED_NAME: { exit: 'usage', meaning: "a staged file's name does not decode to a TUF role name" },
  TUF_STAGED_ORPHAN: { exit: 'conflict', meaning: 'a staged TUF role that no role delegates to' },
  TUF_TARGET_PATH: { exit: 'usage', meaning: 'a target path that is not relative and "/"-separated without empty, "." or ".." parts' },
  TUF_TARGET_SOURCE: { exit: 'usage', meaning: 'a target needs either --file, or --digest with --length' },
  TUF_THRESHOLD: { exit: 'verification', meaning: 'TUF metadata has fewer valid signatures than its threshold, or a threshold of 0' },
  TUF_THRESHOLD_INVALID: { exit: 'usage', meaning: "a threshold below 1, or above the number of the role's keys" },
  TUF_THRESHOLD_UNMET: { exit: 'conflict', meaning: 'TUF metadata cannot be published before its thresholds are met' },
  TUF_TIMEOUT: { exit: 'unavailable', meaning: 'the TUF repository sent nothing for too long' },
  TUF_TYPE: { exit: 'verification', meaning: 'a TUF file holds another role than its name says' },
  TUF_UNSUPPORTED: { exit: 'verification', meaning: 'a TUF key type, scheme or spec version that TUF 1.0 clients do not share' },
  TUF_URL: { exit: 'unavailable', meaning: 'a TUF repository URL that is not http: or https:' },
  TUF_VERSION_MISMATCH: { exit: 'verification', meaning: 'TUF metadata has another version than snapshot or timestamp says' },
  UNEXPECTED: { exit: 'failure', meaning: 'an error Keyward did not anticipate: likely a bug (--debug shows where; please report it)' },
  UNKNOWN_COMMAND: { exit: 'usage', meaning: 'no such command (keyward --help lists them)' },
  UNKNOWN_OPTION: { exit: 'usage', meaning: 'the command has no such option' },
  URI_MALFORMED: { exit: 'usage', meaning: 'a malformed key URI (the message points at the fault)' },
  URI_SCHEME_UNSUPPORTED: { exit: 'usage', meaning: 'not a key URI, or a scheme other than pkcs11: and yubikey:' },
  URI_SECRET_IN_FILE: { exit: 'usage', meaning: 'a key URI read from a file says where a PIN or key comes from' },
  USAGE: { exit: 'usage', meaning: 'the command line does not parse, for a reason without a code of its own' },
  USER_TYPE_INVALID: { exit: 'usage', meaning: 'the token refused the PKCS#11 user type' },
  VALIDITY_EXCEEDS_ISSUER: { exit: 'usage', meaning: 'the certificate would outlive its issuer' },
  VALIDITY_INVALID: { exit: 'usage', meaning: 'a validity that is not a whole number of days or years of at least 1' },
  VIRTUAL_NOT_SERVED: { exit: 'unavailable', meaning: 'no virtual YubiKey is being served for that state file' },
  VIRTUAL_STATE_CORRUPT: { exit: 'usage', meaning: 'the file is not a virtual YubiKey state file' },
  VIRTUAL_STATE_EXISTS: { exit: 'conflict', meaning: 'the file already holds a virtual YubiKey' },
  VIRTUAL_STATE_MISSING: { exit: 'notFound', meaning: 'no virtual YubiKey state file at that path' },
  YUBIKEY_AMBIGUOUS: { exit: 'conflict', meaning: 'more than one YubiKey matches the URI' },
  YUBIKEY_NOT_FOUND: { exit: 'notFound', meaning: 'no YubiKey matches the URI' },
} as const satisfies Record<string, ErrorCodeEntry>;

/** A code of the table: any other string does not compile where a code is expected. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose exit code is `Kind`: `CodeOf<'usage'>` are the codes of UsageError. */
export type CodeOf<Kind extends ExitKind> = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['exit'] extends Kind ? C : never }[ErrorCode];

/** The exit code of an error code: `exitCodeOf('PIN_INCORRECT')` is 4. */
export function exitCodeOf(code: ErrorCode): ExitCode {
  return EXIT_CODES[ERROR_CODES[code].exit].code;
}
