/** `keyward ca swarm-command`: the `docker swarm ca --rotate …` that moves a swarm to this cluster CA. */
import type { Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { dirOption } from './shared.js';

/** `keyward ca swarm-command`. */
export function defineSwarm(ca: Command): void {
  ca.command('swarm-command')
    .description('print the docker swarm ca --rotate command that makes a swarm trust this cluster CA and ask keyward ca serve for its certificates')
    .requiredOption('--url <url>', 'where keyward ca serve --tls listens, as the swarm\'s managers reach it (https://HOST:PORT)')
    .addOption(dirOption())
    .addHelpText('after', examples([
      'docker swarm init --advertise-addr 10.0.0.1',
      'keyward ca intermediate create --root-key … --key … --generate p256 --cluster-id "$(docker info -f {{.Swarm.Cluster.ID}})" --dir ca/',
      'keyward ca serve --dir ca/ --listen 0.0.0.0:8888 --hostname ca.example --client-auth managers --bootstrap-root swarm-root.pem &',
      'keyward ca swarm-command --dir ca/ --url https://ca.example:8888',
      'eval "$(keyward ca swarm-command --dir ca/ --url https://ca.example:8888)"',
      'keyward ca swarm-command --dir ca/ --url https://ca.example:8888 --json | jq -r .externalCa',
    ]) + `
The swarm trusts the cluster CA certificate (cluster-ca.pem: self-signed by the cluster's key, the
same subject and key as the certificate the offline root gave it), so its nodes' certificates
verify in Go (dockerd) and, through intermediate.pem, to the offline root in OpenSSL. SwarmKit
posts to the URL exactly as given, so it ends in /api/v1/cfssl/sign. Run the command on a manager;
it waits until every node holds a certificate from this CA (add --detach not to wait).
`)
    .action(async (options: { url: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { swarmRotation } = await import('../../src/ca/swarm.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const rotation = swarmRotation(new CaDirectory(options.dir), options.url);
      ctx.emit(rotation, () => rotation.command);
    });
}
