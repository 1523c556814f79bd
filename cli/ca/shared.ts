/** What the `ca` commands share: where the CA directory and its ledger are, making a key first, and releasing devices after a step. */
import { Option } from 'commander';
import { KEY_ALGORITHMS } from '../../src/crypto/algorithms.js';
import type { StepRecord } from '../../src/ca/steps/record.js';
import type { CliContext } from '../context.js';
import { wholeNumber } from '../options.js';

export const dirOption = () =>
  new Option('--dir <dir>', 'the CA directory (its certificates, ledger and CRLs; keys stay in their devices)').env('KEYWARD_CA_DIR').default('keyward-ca');
/** Where the ledger is, for the commands that read or write it; ca.json's "ledger", else the directory's ledger.sqlite, when not given. */
export const ledgerOption = () =>
  new Option(
    '--ledger <location>',
    "the ledger: sqlite (the directory's ledger.sqlite) or postgres://USER@HOST:PORT/DB[?sslmode=verify-full&sslrootcert=FILE], its password from PGPASSWORD or PGPASSFILE (default: ca.json's, else sqlite)",
  ).env('KEYWARD_CA_LEDGER');
export const generateOption = () => new Option('--generate <algorithm>', 'generate the key at that URI first').choices(KEY_ALGORITHMS);
/** A new root's validity, the same for `root create` and `rotate-root begin`: 20 years unless told, as createRoot's (src/ca/issue.ts, not loaded for --help). */
export const rootYearsOption = () => new Option('--years <n>', 'validity in years').argParser((v) => wholeNumber(v, '--years', { min: 1 })).default(20);

/** Runs a step and always releases the devices it opened. */
export async function withKeystore<T>(ctx: CliContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await ctx.keystore().close();
  }
}

/**
 * A step's record as people read it: what witnesses copy (fingerprints, serials, CRL numbers) and
 * the files written. `--json` prints the record itself.
 */
export function describeStep(record: StepRecord): string {
  return [
    ...record.keys.map((k) => `${k.role} key ${k.generated ? 'made' : 'used'}: ${k.uri}\n  ${k.device}\n  public key sha256 ${k.spkiSha256}`),
    ...record.certificates.map(
      (c) => `${c.profile} certificate "${c.subject}" issued by "${c.issuer}"\n  serial ${c.serial}, valid until ${c.notAfter}\n  sha256 ${c.sha256}`,
    ),
    ...record.crls.map((c) => `${c.role} CRL number ${c.number}, ${c.revoked} revoked, next update ${c.nextUpdate ?? 'none'}\n  sha256 ${c.sha256}`),
    ...record.files.map((f) => (f.removed ? `removed ${f.path}` : `wrote ${f.path}`)),
  ].join('\n');
}
