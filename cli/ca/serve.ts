/** `keyward ca serve`: cfssl's remote-signing API, with the intermediate's key in its device. */
import { Option, type Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import { withSecrets } from '../../src/secret.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { readCertificate } from '../io.js';
import { toPem } from '../../src/x509/pem.js';
import { wholeNumber } from '../options.js';
import { existingSecret } from '../secrets.js';
import { dirOption, ledgerOption } from './shared.js';

/** `keyward ca serve`. */
export function defineServe(ca: Command): void {
  ca.command('serve')
    .description("serve cfssl's remote-signing API (sign, authsign, info) with the intermediate's key in its device")
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:8888')
    .option('--tls', 'serve HTTPS (a server key in memory only, certified by this CA for 7 days, renewed every 3.5)')
    .option('--hostname <name...>', 'names and IPs for the server certificate (implies --tls; default: the listen host, localhost)')
    .addOption(new Option('--client-auth <who>', 'mutual TLS: which client certificates may ask').choices(['none', 'cluster', 'managers']).default('none'))
    .option(
      '--bootstrap-root <file>',
      "the swarm's current root (docker swarm ca > swarm-root.pem): its managers may ask with their certificates from it, for --bootstrap-minutes",
    )
    .option(
      '--bootstrap-minutes <minutes>',
      'how long --bootstrap-root is trusted from start-up (1–1440)',
      (v) => wholeNumber(v, '--bootstrap-minutes', { min: 1, max: 1440 }),
      60,
    )
    .option('--auth-key-source <file>', 'the HMAC key for /authsign, hex, from a file (else KEYWARD_CA_AUTH_KEY)')
    .option('--require-authsign', 'refuse unauthenticated /sign requests')
    .addOption(dirOption())
    .addOption(ledgerOption())
    .option('--drain <seconds>', 'on SIGTERM or SIGINT: how long requests in flight may take to finish', (v) => wholeNumber(v, '--drain'), 10)
    .addHelpText(
      'after',
      examples([
        'keyward ca serve --dir ca/ --listen 127.0.0.1:8888',
        'cfssl sign -remote http://127.0.0.1:8888 node.csr',
        "docker swarm ca > swarm-root.pem            # on a manager: the swarm's own root, before it moves to Keyward",
        'keyward ca serve --dir ca/ --listen 0.0.0.0:8888 --hostname ca.example --client-auth managers --bootstrap-root swarm-root.pem',
        'eval "$(keyward ca swarm-command --dir ca/ --url https://ca.example:8888)"',
      ]) +
        `
Beyond loopback the server must be HTTPS and every caller authenticated, by a client certificate
of the cluster (--client-auth cluster|managers) or an HMAC token (--require-authsign): whoever can
have a CSR signed gets a node identity.

What a caller may obtain (CN = node ID, OU = role; O is always this CA's cluster). The identity
comes from the request's cfssl "subject" (as Docker Swarm sends it) or else the CSR's subject:
  no authentication (loopback only)           any node of the cluster
  an authsign token (/authsign)               any node of the cluster: the key stands for a manager
  a manager's certificate (mutual TLS)        any node of the cluster, as SwarmKit's managers ask
  a worker's certificate (--client-auth cluster)
                                              only its own node ID as a worker (a renewal)
  a worker's certificate (--client-auth managers), or another cluster's under the same root:
                                              nothing (403)
  no client certificate, or one not from the cluster's roots (--client-auth cluster|managers):
                                              nothing: the connection is closed, and the
                                              reason logged with the peer

--bootstrap-root: when a swarm first moves to this CA, its managers hold only certificates from
the swarm's own root. With the swarm's root given, a manager's certificate issued by it (OU
swarm-manager, O this cluster) is admitted as a manager for --bootstrap-minutes (60) from
start-up, and never after; each such connection is logged. Clients revoked meanwhile are
disconnected when the CRLs are reloaded (every minute).

Limits: 64 KiB a body, 8 MiB of bodies in flight, 512 connections, 16 requests pipelined on
one, 10 s to complete a TLS handshake or send headers, 30 s for a whole request, 10 s to take
an answer. SIGTERM stops accepting, lets requests in flight finish for --drain seconds, then
exits 0.
`,
    )
    .action(
      async (
        options: {
          listen: string;
          tls?: boolean;
          hostname?: string[];
          clientAuth: 'none' | 'cluster' | 'managers';
          bootstrapRoot?: string;
          bootstrapMinutes: number;
          authKeySource?: string;
          requireAuthsign?: boolean;
          drain: number;
          dir: string;
          ledger?: string;
        },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        const { parseAuthKeyHex } = await import('../../src/ca/server/cfssl-api.js');
        const { serveCa } = await import('../../src/ca/server/serve.js');
        const { CaDirectory } = await import('../../src/ca/store.js');
        const match = /^(.*):(\d+)$/.exec(options.listen);
        if (!match) throw keywardError('LISTEN_INVALID', `--listen wants host:port, got "${options.listen}"`);
        const host = match[1]!.replace(/^\[|\]$/g, '');
        const bootstrapRoot = options.bootstrapRoot ? toPem('CERTIFICATE', await readCertificate(options.bootstrapRoot, '--bootstrap-root')) : undefined;
        const authKeys = new Map<string, Buffer>();
        if (options.authKeySource || ctx.env.KEYWARD_CA_AUTH_KEY) {
          const secret = await existingSecret(ctx, 'CA auth key (hex)', { file: options.authKeySource, envVar: 'KEYWARD_CA_AUTH_KEY' });
          authKeys.set('default', await withSecrets([secret], async () => parseAuthKeyHex(secret.revealString())));
        }
        const served = await serveCa(new CaDirectory(options.dir, { ledger: options.ledger }), ctx.keystore(), {
          host,
          port: Number(match[2]),
          tlsHosts: options.hostname ?? (options.tls ? [host, 'localhost'] : undefined),
          clientAuth: options.clientAuth,
          authKeys,
          requireAuthsign: options.requireAuthsign,
          ...(bootstrapRoot ? { bootstrapRoot, bootstrapMs: options.bootstrapMinutes * 60_000 } : {}),
          limits: { drainMs: options.drain * 1000 },
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stderr.write(
          `Keyward CA for cluster ${served.authority.policy.clusterId} serving cfssl's API at ${served.url}${options.clientAuth !== 'none' ? ` (client certificates: ${options.clientAuth})` : ''}${authKeys.size ? ', authsign enabled' : ''}\n`,
        );
        ctx.emit({ url: served.url, clusterId: served.authority.policy.clusterId }, () => '');
        await new Promise<void>((resolve, reject) => {
          const stop = (signal: string) => {
            const closing = served.close(); // stops accepting at once; said only then
            process.stderr.write(`${signal}: no new connections; finishing requests in flight (at most ${options.drain} s)\n`);
            closing.then(() => ctx.keystore().close()).then(resolve, reject);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        process.stderr.write('stopped\n');
      },
    );
}
