/** `keyward ca status`: roots, intermediate, and every issued certificate with its renewal time. */
import type { Command } from 'commander';
import { CliContext, table } from '../context.js';
import { examples } from '../help.js';
import { dirOption, ledgerOption } from './shared.js';

/** `keyward ca status`. */
export function defineStatus(ca: Command): void {
  ca.command('status')
    .description('roots, intermediate, and every issued certificate with its renewal time')
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText('after', examples(['keyward ca status --dir ca/', 'keyward ca status --dir ca/ --json | jq ".certificates[] | {subject, renewAt}"']))
    .action(async (options: { dir: string; ledger?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { caStatus } = await import('../../src/ca/steps/status.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const status = await caStatus(new CaDirectory(options.dir, { ledger: options.ledger }));
      ctx.emit(status, () =>
        [
          `CA ${status.dir}${status.clusterId ? ` (cluster ${status.clusterId})` : ''}${status.rotationInProgress ? '  ROOT ROTATION IN PROGRESS' : ''}`,
          ...status.roots.map((r) => `  root: ${r.subject}  until ${r.notAfter}  sha256 ${r.sha256.slice(0, 16)}…`),
          status.intermediate
            ? `  intermediate: ${status.intermediate.subject}  until ${status.intermediate.notAfter}\n    key ${status.intermediate.key}`
            : status.intermediatesSigned.length
              ? '  no intermediate works from this directory; its root signed:'
              : '  no intermediate yet',
          ...(status.intermediate ? [] : status.intermediatesSigned.map((c) => `    ${c.subject}  serial ${c.serial}  until ${c.notAfter}  ${c.status}`)),
          ...(status.clusterCa ? [`  cluster CA (what the swarm trusts: cluster-ca.pem): sha256 ${status.clusterCa.sha256}`] : []),
          `  certificates: ${status.counts.issued} valid, ${status.counts.revoked} revoked, ${status.counts.expired} expired`,
          ...(status.certificates.length
            ? [
                table([
                  ['SERIAL', 'SUBJECT', 'STATUS', 'RENEW AT', 'NOT AFTER'],
                  ...status.certificates.map((c) => [c.serial.slice(0, 16), c.subject, c.status, c.renewAt.slice(0, 16), c.notAfter.slice(0, 16)]),
                ]),
              ]
            : []),
        ].join('\n'),
      );
    });
}
