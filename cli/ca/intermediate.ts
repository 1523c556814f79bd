/** `keyward ca intermediate …`: the cluster's issuing CA, signed by the root in one ceremony or split between offline and online. */
import type { Command } from 'commander';
import type { KeyAlgorithm } from '../../src/crypto/algorithms.js';
import { keywardError } from '../../src/errors.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, parseInput, readCertificate, writeOutput } from '../io.js';
import { wholeNumber } from '../options.js';
import { dirOption, generateOption, ledgerOption, withKeystore, describeStep } from './shared.js';

/** `keyward ca intermediate …`. */
export function defineIntermediate(ca: Command): void {
  const intermediate = ca
    .command('intermediate')
    .description("the cluster's issuing CA: made in a ceremony with the root, in one place or split between offline and online");
  intermediate
    .command('create')
    .description('sign a cluster intermediate with the root (a ceremony: the root key must be present)')
    .requiredOption('--root-key <uri>', "the root's key")
    .option('--key <uri>', "the intermediate's key, when its device is here: this directory becomes the cluster's CA")
    .addOption(generateOption())
    .option('--csr <file>', "or the intermediate's CSR, from keyward ca intermediate request on the online side")
    .requiredOption('--cluster-id <id>', 'the cluster: certificates outside O=<cluster id> are refused by name constraints')
    .option('--days <n>', 'validity in days', (v) => wholeNumber(v, '--days'), 5 * 365)
    .option('--node-days <n>', 'validity of node certificates it issues', (v) => wholeNumber(v, '--node-days'), 90)
    .option('--crl-url <url>', 'where relying parties fetch CRLs (CRL distribution point)')
    .option('--ca-issuers-url <url>', 'where relying parties fetch the issuer certificate (AIA)')
    .addOption(outputOption('-o, --out <file>', 'write the certificate here (with --csr: to carry back and install)'))
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        '# both keys at hand (one machine, or an HSM reachable from the ceremony):',
        "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root' --key 'pkcs11:token=ca-online;object=cluster-a' --generate p256 --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --dir ca/",
        '# the root offline, the intermediate key online: sign its CSR, carry the certificate back',
        "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root' --csr cluster-a.csr --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --out cluster-a.pem --dir offline-ca/",
      ]),
    )
    .action(
      async (
        options: {
          rootKey: string;
          key?: string;
          generate?: KeyAlgorithm;
          csr?: string;
          clusterId: string;
          days: number;
          nodeDays: number;
          crlUrl?: string;
          caIssuersUrl?: string;
          out?: string;
          dir: string;
          ledger?: string;
        },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        const { createClusterIntermediate } = await import('../../src/ca/steps/intermediate.js');
        const { CaDirectory } = await import('../../src/ca/store.js');
        const { KeyUri } = await import('../../src/keystore/uri/origin.js');
        const urls = options.crlUrl || options.caIssuersUrl ? { crl: options.crlUrl, caIssuers: options.caIssuersUrl } : undefined;
        const { checkCsr } = await import('../../src/ca/csr.js');
        const csr = options.csr ? await parseInput(options.csr, '--csr', async (data) => (await checkCsr(data), data)) : undefined;
        if (csr && !options.out)
          throw keywardError('OUT_REQUIRED', 'with --csr, say where to write the certificate to carry back', { hint: 'add --out cluster.pem' });
        const record = await withKeystore(ctx, () =>
          createClusterIntermediate(new CaDirectory(options.dir, { ledger: options.ledger }), ctx.keystore(), {
            ...options,
            rootKey: KeyUri.of(options.rootKey),
            key: options.key !== undefined ? KeyUri.of(options.key) : undefined,
            csr,
            urls,
          }),
        );
        if (options.out) writeOutput(options.out, record.outputs.certificate!, false);
        ctx.emit(record, () =>
          [
            describeStep(record),
            ...(csr
              ? [`  carry ${options.out} and a copy of ${new CaDirectory(options.dir).dir} back: keyward ca intermediate install --cert … --root-dir …`]
              : []),
          ].join('\n'),
        );
      },
    );
  intermediate
    .command('request')
    .description("online half of a split ceremony: make the intermediate's key here and a CSR for the offline root")
    .requiredOption('--key <uri>', "the intermediate's key (the online CA key)")
    .addOption(generateOption())
    .requiredOption('--cluster-id <id>', 'the cluster it will serve')
    .option('--node-days <n>', 'validity of node certificates it will issue', (v) => wholeNumber(v, '--node-days'), 90)
    .addOption(outputOption('-o, --out <file>', 'where to write the CSR (to carry to the ceremony)').makeOptionMandatory())
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        "keyward ca intermediate request --key 'pkcs11:token=ca-online;object=cluster-a' --generate p256 --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --out cluster-a.csr --dir ca/",
        '# … in the ceremony: keyward ca intermediate create --csr cluster-a.csr …; then:',
        'keyward ca intermediate install --cert cluster-a.pem --root-dir /media/usb/offline-ca --dir ca/',
      ]),
    )
    .action(async (options: { key: string; generate?: KeyAlgorithm; clusterId: string; nodeDays: number; out: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { requestClusterIntermediate } = await import('../../src/ca/steps/intermediate.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const { KeyUri } = await import('../../src/keystore/uri/origin.js');
      const record = await withKeystore(ctx, () =>
        requestClusterIntermediate(new CaDirectory(options.dir), ctx.keystore(), { ...options, key: KeyUri.of(options.key) }),
      );
      writeOutput(options.out, record.outputs.csr!, false);
      ctx.emit(
        record,
        () => `${describeStep(record)}\nCSR for the intermediate of cluster ${options.clusterId} written to ${options.out}; the root signs it in a ceremony`,
      );
    });
  intermediate
    .command('install')
    .description("online half, afterwards: install the certificate the root signed, with the root's certificates and CRLs")
    .requiredOption('--cert <file>', 'the intermediate certificate from the ceremony')
    .requiredOption('--root-dir <dir>', "a copy of the root's CA directory from the same ceremony (its roots, rotation state and CRLs are copied)")
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca intermediate install --cert cluster-a.pem --root-dir /media/usb/offline-ca --dir ca/']))
    .action(async (options: { cert: string; rootDir: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { installClusterIntermediate } = await import('../../src/ca/steps/intermediate.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const cert = await readCertificate(options.cert, '--cert');
      const record = await withKeystore(ctx, () =>
        installClusterIntermediate(new CaDirectory(options.dir), ctx.keystore(), { certificate: cert, rootDirectory: new CaDirectory(options.rootDir) }),
      );
      ctx.emit(record, () => `${describeStep(record)}\nintermediate installed; this CA can issue node certificates`);
    });
}
