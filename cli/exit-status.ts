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
