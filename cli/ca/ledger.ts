/** `keyward ca ledger …`: a PostgreSQL ledger's schema, and moving a CA's ledger between SQLite and PostgreSQL. */
import type { Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import type { Ledger } from '../../src/ca/ledger/ledger.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, readInput, writeOutput } from '../io.js';
import { dirOption, ledgerOption } from './shared.js';

interface LedgerOptions {
  dir: string;
  ledger?: string;
}

/**
 * The ledger a command names: a PostgreSQL one by --ledger alone (no CA directory is needed to reach
 * it), else the CA directory's (its ca.json's, else its ledger.sqlite).
 */
async function openLedger(options: LedgerOptions, purpose: 'read' | 'write'): Promise<Ledger> {
  const { parseLedgerLocation } = await import('../../src/ca/ledger/location.js');
  const location = options.ledger === undefined ? undefined : parseLedgerLocation(options.ledger);
  if (location?.kind === 'postgres') {
    const { PostgresLedger } = await import('../../src/ca/ledger/postgres.js');
    return PostgresLedger.open(location, { readOnly: purpose === 'read' });
  }
  const { CA_FILES, CaDirectory } = await import('../../src/ca/store.js');
  const directory = new CaDirectory(options.dir, { ledger: options.ledger });
  if (purpose === 'write') return directory.ledger();
  const ledger = await directory.readOnlyLedger();
  if (!ledger) throw keywardError('CA_FILE_MISSING', `this CA has no ledger (${directory.path(CA_FILES.ledger)})`, { hint: 'nothing was issued yet' });
  return ledger;
}

/** `keyward ca ledger`. */
export function defineLedger(ca: Command): void {
  const ledger = ca.command('ledger').description("the CA's ledger: a PostgreSQL ledger's schema, and moving a CA between SQLite and PostgreSQL");

  ledger
    .command('migrate')
    .description("make or bring up to date a PostgreSQL ledger's tables (the only command that changes its schema)")
    .addOption(ledgerOption())
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        "PGPASSFILE=~/.pgpass keyward ca ledger migrate --ledger 'postgres://keyward@db.example:5432/keyward_ca?sslmode=verify-full&sslrootcert=db-ca.pem'",
      ]) +
        `
CA servers check the schema when they start and refuse one they do not know. To upgrade: stop the
servers of the old version, migrate with the new one, start the new servers.
`,
    )
    .action(async (options: LedgerOptions, command: Command) => {
      const ctx = await CliContext.of(command);
      const { CaDirectory } = await import('../../src/ca/store.js');
      const location = new CaDirectory(options.dir, { ledger: options.ledger }).ledgerLocation();
      if (location.kind !== 'postgres') {
        throw keywardError(
          'LEDGER_URL_INVALID',
          'keyward ca ledger migrate is for a PostgreSQL ledger; a SQLite ledger is brought up to date when it is opened',
          {
            hint: 'give --ledger postgres://USER@HOST:PORT/DB',
          },
        );
      }
      const { PostgresLedger } = await import('../../src/ca/ledger/postgres.js');
      const { from, to } = await PostgresLedger.migrate(location);
      ctx.emit({ from, to }, () =>
        from === to ? `the ledger's schema is up to date (version ${to})` : `the ledger's schema went from version ${from} to ${to}`,
      );
    });

  ledger
    .command('export')
    .description('write everything the ledger holds to a file, to import into another ledger (SQLite ↔ PostgreSQL)')
    .addOption(outputOption('--out <file>', 'the export file (JSON; - for standard output)').makeOptionMandatory())
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        "keyward ca ledger export --dir ca/ --out ledger.json                       # the directory's ledger.sqlite",
        "keyward ca ledger export --dir ca/ --ledger 'postgres://keyward@db.example/keyward_ca' --out ledger.json",
      ]) + '\nIt prints how many certificates it wrote and the SHA-256 checksum of the content; the import prints the same.\n',
    )
    .action(async (options: LedgerOptions & { out: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { exportLedger } = await import('../../src/ca/ledger/transfer.js');
      const source = await openLedger(options, 'read');
      try {
        const { text, summary } = await exportLedger(source);
        writeOutput(options.out, text, false);
        const said = `exported ${summary.count} certificates and the CRL numbers of ${summary.crlIssuers} issuers to ${options.out}\n  sha256 ${summary.sha256}`;
        // The export itself went to standard output: what moved is said on standard error.
        if (options.out === '-') return void process.stderr.write(`${said}\n`);
        ctx.emit({ ...summary, file: options.out }, () => said);
      } finally {
        await source.close();
      }
    });

  ledger
    .command('import')
    .description('fill an empty ledger from an export (SQLite ↔ PostgreSQL); the same content already there is left as it is')
    .requiredOption('--in <file>', 'the export file')
    .addOption(ledgerOption())
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        "keyward ca ledger migrate --ledger 'postgres://keyward@db.example/keyward_ca'",
        "keyward ca ledger import --ledger 'postgres://keyward@db.example/keyward_ca' --in ledger.json",
        'keyward ca ledger import --dir ca/ --ledger sqlite --in ledger.json        # back into a directory without a ledger.sqlite',
      ]) +
        `
It refuses a ledger that holds anything else: stop the CA servers before the export, and start
them on the new ledger (--ledger, KEYWARD_CA_LEDGER, or "ledger" in ca.json) after the import.
`,
    )
    .action(async (options: LedgerOptions & { in: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { importLedger } = await import('../../src/ca/ledger/transfer.js');
      const text = readInput(options.in, '--in').toString('utf8');
      const target = await openLedger(options, 'write');
      try {
        const summary = await importLedger(target, text, options.in);
        ctx.emit({ ...summary, file: options.in }, () =>
          summary.unchanged
            ? `the ledger already holds exactly these ${summary.count} certificates: nothing to import\n  sha256 ${summary.sha256}`
            : `imported ${summary.count} certificates and the CRL numbers of ${summary.crlIssuers} issuers from ${options.in}\n  sha256 ${summary.sha256}`,
        );
      } finally {
        await target.close();
      }
    });
}
