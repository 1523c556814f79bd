/** `keyward ca issue`: a node certificate from a CSR, named by the CA. */
import { Option, type Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, parseInput, writeOutput } from '../io.js';
import { wholeNumber } from '../options.js';
import { dirOption, ledgerOption } from './shared.js';

/** `keyward ca issue`. */
export function defineIssue(ca: Command): void {
  ca.command('issue')
    .description('issue a node certificate from a CSR (the CA sets the subject: O=<cluster>, OU=<role>, CN=<node id>)')
    .requiredOption('--csr <file>', 'the CSR, PEM or DER ("-" for stdin)')
    .addOption(new Option('--role <role>', "the node's role (default: the CSR's OU)").choices(['manager', 'worker']))
    .option('--node-id <id>', "the node ID (default: the CSR's CN)")
    .option('--days <n>', "validity in days (default: the CA's node days, 90)", (v) => wholeNumber(v, '--days'))
    .addOption(outputOption('-o, --out <file>', 'write the certificate and chain (PEM) here'))
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout node.key -subj '/OU=swarm-worker/CN=node-1' -out node.csr",
        'keyward ca issue --csr node.csr --out node.crt --dir ca/',
      ]),
    )
    .action(
      async (
        options: { csr: string; role?: 'manager' | 'worker'; nodeId?: string; days?: number; out?: string; dir: string; ledger?: string },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        const { openAuthority } = await import('../../src/ca/authority.js');
        const { roleOf } = await import('../../src/ca/names.js');
        const { CaDirectory } = await import('../../src/ca/store.js');
        const { checkCsr } = await import('../../src/ca/csr.js');
        // The CSR is read and checked before the CA's key is opened: a wrong file is named, and costs no PIN.
        const csr = await parseInput(options.csr, '--csr', async (data) => (await checkCsr(data), data));
        const authority = await openAuthority(new CaDirectory(options.dir, { ledger: options.ledger }), ctx.keystore());
        try {
          const issued = await authority.issueNode(csr, { role: options.role ? roleOf(options.role) : undefined, nodeId: options.nodeId, days: options.days });
          if (options.out) writeOutput(options.out, issued.chainPem, false);
          ctx.emit(
            {
              serial: issued.serial,
              subject: issued.certificate.subject,
              notAfter: issued.certificate.notAfter,
              renewAt: issued.renewAt,
              certificate: issued.chainPem,
            },
            () => (options.out ? `issued ${issued.serial} to "${issued.certificate.subject}", renew at ${issued.renewAt.toISOString()}` : issued.chainPem),
          );
        } finally {
          await authority.ledger.close();
          await ctx.keystore().close();
        }
      },
    );
}
