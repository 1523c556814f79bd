/**
 * Errors a person can act on: every Keyward error says what failed (`message`), what to do next
 * (`hint`), carries a stable `code` for scripts, and maps to a process exit code.
 */

/** Exit codes of the `keyward` binary; also the classification of every error. */
export const ExitCode = {
  ok: 0,
  /** Something unexpected: a bug, or a device error we could not classify. */
  failure: 1,
  /** The request itself is wrong: bad flag, malformed URI/CSR/certificate, unsupported algorithm. */
  usage: 2,
  /** What was asked for does not exist: no such token, key, slot or certificate. */
  notFound: 3,
  /** Authentication failed or is impossible: wrong/locked PIN, no PIN source, refused last retry. */
  auth: 4,
  /** A device, module, reader or service is not available. */
  unavailable: 5,
  /** A signature, certificate or chain did not verify. */
  verification: 6,
  /** The request conflicts with what exists: a duplicate label, an ambiguous match, a used slot. */
  conflict: 7,
  /** The user said no, or interrupted. */
  cancelled: 130,
} as const;
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
