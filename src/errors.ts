/**
 * Errors a person can act on: every Keyward error says what failed (`message`), what to do next
 * (`hint`), carries a stable `code` for scripts, and maps to a process exit code.
 *
 * The codes, and the exit code and class each one has, are in src/error-codes.ts. An error is made
 * with `keywardError('CODE', message, { hint })`, which picks the class the table names; the
 * classes below are for `instanceof`, and for the errors with more to say (subclasses elsewhere).
 */
import { ERROR_CODES, ExitCode, exitCodeOf, type CodeOf, type ErrorCode } from './error-codes.js';

export { ERROR_CODES, EXIT_CODES, ExitCode, exitCodeOf, type CodeOf, type ErrorCode, type ErrorCodeEntry, type ExitKind } from './error-codes.js';

export interface KeywardErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Structured facts for `--json` output (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * The base of every Keyward error. Its exit code is the one its code has in the table. Subclasses
 * hand it their code; elsewhere, errors are made with keywardError(), not `new KeywardError`.
 */
export class KeywardError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: KeywardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = exitCodeOf(code);
    this.details = options.details;
  }

  /** The same error (class, code, message, details, cause, stack) with another hint: a caller that knows more sharpens it. */
  withHint(hint: string): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object, Object.getOwnPropertyDescriptors(this)) as this;
    Object.defineProperty(copy, 'hint', { value: hint, enumerable: true });
    return copy;
  }

  /** The same error with its message said of `subject` ("--csr node.crt: …"): a caller that knows which input was wrong names it. */
  about(subject: string): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object, Object.getOwnPropertyDescriptors(this)) as this;
    Object.defineProperty(copy, 'message', { value: `${subject}: ${this.message}`, enumerable: false, writable: true, configurable: true });
    return copy;
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
  constructor(code: CodeOf<'usage'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class NotFoundError extends KeywardError {
  constructor(code: CodeOf<'notFound'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class AuthError extends KeywardError {
  constructor(code: CodeOf<'auth'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class UnavailableError extends KeywardError {
  constructor(code: CodeOf<'unavailable'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class ConflictError extends KeywardError {
  constructor(code: CodeOf<'conflict'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class VerificationError extends KeywardError {
  constructor(code: CodeOf<'verification'>, message: string, options: KeywardErrorOptions = {}) {
    super(code, message, options);
  }
}

export class CancelledError extends KeywardError {
  constructor(message = 'cancelled', options: KeywardErrorOptions = {}) {
    super('CANCELLED', message, options);
  }
}

/** The class of each exit code's errors. */
const CLASSES = {
  failure: KeywardError,
  usage: UsageError,
  notFound: NotFoundError,
  auth: AuthError,
  unavailable: UnavailableError,
  verification: VerificationError,
  conflict: ConflictError,
} as const;

type Classes = typeof CLASSES;

/** The class keywardError() makes for a code: `ErrorOf<'PIN_LOCKED'>` is AuthError. */
export type ErrorOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]['exit'] extends infer Kind
  ? Kind extends keyof Classes
    ? InstanceType<Classes[Kind]>
    : CancelledError
  : never;

/**
 * The error for `code`, of the class its exit code names in src/error-codes.ts:
 * `throw keywardError('TOKEN_NOT_FOUND', 'no initialised token matches …', { hint: 'tokens here: …' })`.
 * Give the code as a literal, so that grep finds where a code comes from.
 */
export function keywardError<C extends ErrorCode>(code: C, message: string, options: KeywardErrorOptions = {}): ErrorOf<C> {
  const exit = ERROR_CODES[code].exit;
  if (exit === 'cancelled') return new CancelledError(message, options) as ErrorOf<C>;
  return new (CLASSES[exit] as new (code: ErrorCode, message: string, options: KeywardErrorOptions) => KeywardError)(code, message, options) as ErrorOf<C>;
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
