/**
 * Errors a person can act on: every Keyward error says what failed (`message`), what to do next
 * (`hint`), carries a stable `code` for scripts, and maps to a process exit code.
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
    meaning: 'bad request: unknown command, invalid option, malformed URI, CSR, certificate or ca.json, unsupported algorithm, a PKCS#11 module a file names but you did not allow, a destructive command with no one to confirm it and no --yes',
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

/** The exit codes by name: `ExitCode.usage` is 2. */
export const ExitCode = Object.fromEntries(Object.entries(EXIT_CODES).map(([name, { code }]) => [name, code])) as {
  readonly [Name in keyof typeof EXIT_CODES]: (typeof EXIT_CODES)[Name]['code'];
};
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface KeywardErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: ExitCode;
  /** Structured facts for `--json` output (never secrets). */
  details?: Record<string, unknown>;
}

export class KeywardError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: KeywardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export class UsageError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.usage });
  }
}

export class NotFoundError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.notFound });
  }
}

export class AuthError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.auth });
  }
}

export class UnavailableError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.unavailable });
  }
}

export class ConflictError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.conflict });
  }
}

export class VerificationError extends KeywardError {
  constructor(code: string, message: string, options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.verification });
  }
}

export class CancelledError extends KeywardError {
  constructor(message = 'cancelled', options: Omit<KeywardErrorOptions, 'exitCode'> = {}) {
    super('CANCELLED', message, { ...options, exitCode: ExitCode.cancelled });
  }
}

/** What a file system error means, for a person: "no such file or directory", not ENOENT. */
export function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'the disk quota is exhausted',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'the name is too long',
    EIO: 'an input/output error',
    ENXIO: 'no such device (a FIFO with no writer, or a device gone)',
  };
  if (code && reasons[code]) return reasons[code];
  // Node's messages read "ENOSPC: no space left on device, write": keep the words, drop the code and the call.
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message;
}
