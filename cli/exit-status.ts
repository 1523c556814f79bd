/**
 * A command whose exit codes a protocol fixes, not Keyward's table: `trust client` speaks the TUF
 * conformance suite's client protocol, where any failure exits 1. Such a command throws its failure
 * wrapped in a ProtocolFailure; the error is shown as any other, with its own code (`--json`), and
 * the process exits with the protocol's code. The error itself keeps the exit code its code has.
 */
export class ProtocolFailure extends Error {
  readonly error: unknown;
  readonly exitCode: number;

  constructor(error: unknown, exitCode: number) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
    this.name = 'ProtocolFailure';
    this.error = error;
    this.exitCode = exitCode;
  }
}

/**
 * A failure another process has already said (a `ca serve` worker prints its own error): the
 * process exits with its code and says nothing more.
 */
export class ReportedFailure extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message = 'a worker process failed and said why') {
    super(message);
    this.name = 'ReportedFailure';
    this.exitCode = exitCode;
  }
}
