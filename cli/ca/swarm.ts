/** `keyward ca swarm-command`: the `docker swarm ca --rotate …` that moves a swarm to this cluster CA. */
import type { Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { wholeNumber } from '../options.js';
import { dirOption } from './shared.js';

/** `keyward ca swarm-command`. */
export function defineSwarm(ca: Command): void {
  ca.command('swarm-command')
    .description('print the docker swarm ca --rotate command that makes a swarm trust this cluster CA and ask keyward ca serve for its certificates')
    .requiredOption('--url <url>', "where keyward ca serve --tls listens, as the swarm's managers reach it (https://HOST:PORT)")
    .option('--wait <seconds>', 'how long to wait for the server to answer with a certificate of this CA', (v) => wholeNumber(v, '--wait', { max: 600 }), 10)
    .option('--no-check', 'print the command without reaching the server (on a machine that cannot)')
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples([
        'docker swarm init --advertise-addr 10.0.0.1',
        'keyward ca intermediate create --root-key … --key … --generate p256 --cluster-id "$(docker info -f {{.Swarm.Cluster.ID}})" --dir ca/',
        'docker swarm ca > swarm-root.pem',
        'keyward ca serve --dir ca/ --listen 0.0.0.0:8888 --hostname ca.example --client-auth managers --bootstrap-root swarm-root.pem &',
        'keyward ca swarm-command --dir ca/ --url https://ca.example:8888',
        'eval "$(keyward ca swarm-command --dir ca/ --url https://ca.example:8888)"',
        'keyward ca swarm-command --dir ca/ --url https://ca.example:8888 --json | jq -r .externalCa',
      ]) +
        `
The swarm trusts the cluster CA certificate (cluster-ca.pem: self-signed by the cluster's key, the
same subject and key as the certificate the offline root gave it), so its nodes' certificates
verify in Go (dockerd) and, through intermediate.pem, to the offline root in OpenSSL. SwarmKit
posts to the URL exactly as given, so it ends in /api/v1/cfssl/sign. Run the command on a manager;
it waits until every node holds a certificate from this CA (add --detach not to wait).
Before printing, it makes the check SwarmKit makes: the server answers at the URL with a
certificate of this cluster CA for that host (waiting --wait seconds for it to start).
`,
    )
    .action(async (options: { url: string; wait: number; check: boolean; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { checkExternalCa, swarmRotation } = await import('../../src/ca/swarm.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const directory = new CaDirectory(options.dir);
      const rotation = swarmRotation(directory, options.url);
      if (options.check) await checkExternalCa(directory, options.url, options.wait * 1000);
      ctx.emit(rotation, () => rotation.command);
    });
}
