/** `keyward ca serve`: cfssl's remote-signing API, with the intermediate's key in its device. */
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import type { ServeCaOptions } from '../../src/ca/server/serve.js';
import { keywardError } from '../../src/errors.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { withSecrets } from '../../src/secret.js';
import { CliContext } from '../context.js';
import { ReportedFailure } from '../exit-status.js';
import { examples } from '../help.js';
import { readCertificate } from '../io.js';
import { toPem } from '../../src/x509/pem.js';
import { wholeNumber } from '../options.js';
import { existingSecret } from '../secrets.js';
import type { Serving } from './serve-workers.js';
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
    .option(
      '--workers <n>',
      'processes serving the one port, each with its own token session and ledger connection (default: one per core; 1 with a YubiKey)',
      (v) => wholeNumber(v, '--workers', { min: 1, max: 256 }),
    )
    .addHelpText(
      'after',
      examples([
        'keyward ca serve --dir ca/ --listen 127.0.0.1:8888',
        'keyward ca serve --dir ca/ --listen 127.0.0.1:8888 --workers 4',
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

--workers: that many processes serve the one port, each logging in to the token itself and with
its own ledger connection; they start one after another (a wrong PIN stops the first), a PIN
asked for is asked once, a worker that dies is started again (and logged), and SIGTERM drains
them all. Default: one per core (one for a YubiKey-held key); --workers 1 is one process.
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
          workers?: number;
          dir: string;
          ledger?: string;
        },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        const { isWorker, runWorker, superviseWorkers } = await import('./serve-workers.js');
        if (isWorker())
          return runWorker<ServeSettings>(
            (orders, interaction) => serveHere(ctx, orders.settings, { interaction, signsCrls: orders.index === 0 }),
            ctx.interaction,
          );
        const settings = await settingsOf(ctx, options);
        const { checkServeCaOptions } = await import('../../src/ca/server/serve.js');
        checkServeCaOptions(serveCaOptions(settings));
        const workers = options.workers ?? (await defaultWorkers(settings));
        const describe = (url: string, clusterId: string) =>
          `Keyward CA for cluster ${clusterId} serving cfssl's API at ${url}${workers > 1 ? ` (${workers} workers)` : ''}${settings.clientAuth !== 'none' ? ` (client certificates: ${settings.clientAuth})` : ''}${settings.authKeyHex ? ', authsign enabled' : ''}`;
        if (workers > 1) {
          const code = await superviseWorkers(ctx, workers, settings, settings.drainMs, describe);
          if (code !== 0) throw new ReportedFailure(code);
          process.stderr.write('stopped\n');
          return;
        }
        const served = await serveHere(ctx, settings, { signsCrls: true });
        process.stderr.write(`${describe(served.url, served.clusterId)}\n`);
        ctx.emit({ url: served.url, clusterId: served.clusterId, workers: 1 }, () => '');
        await new Promise<void>((resolve, reject) => {
          const stop = (signal: string) => {
            const closing = served.close(); // stops accepting at once; said only then
            process.stderr.write(`${signal}: no new connections; finishing requests in flight (at most ${options.drain} s)\n`);
            closing.then(resolve, reject);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        process.stderr.write('stopped\n');
      },
    );
}

/** What a server is to do, with the files and secrets the options name read once: what the primary hands each worker. */
interface ServeSettings {
  dir: string;
  ledger?: string;
  host: string;
  port: number;
  tlsHosts?: string[];
  clientAuth: 'none' | 'cluster' | 'managers';
  bootstrapRoot?: string;
  /** When managers with certificates from the swarm's own root stop being admitted (ms since 1970): fixed at start-up, so a restarted worker does not extend it. */
  bootstrapUntil?: number;
  /** The /authsign HMAC key, hex. */
  authKeyHex?: string;
  requireAuthsign?: boolean;
  drainMs: number;
}

async function settingsOf(
  ctx: CliContext,
  options: {
    listen: string;
    tls?: boolean;
    hostname?: string[];
    clientAuth: ServeSettings['clientAuth'];
    bootstrapRoot?: string;
    bootstrapMinutes: number;
    authKeySource?: string;
    requireAuthsign?: boolean;
    drain: number;
    dir: string;
    ledger?: string;
  },
): Promise<ServeSettings> {
  const { parseAuthKeyHex } = await import('../../src/ca/server/cfssl-api.js');
  const match = /^(.*):(\d+)$/.exec(options.listen);
  if (!match) throw keywardError('LISTEN_INVALID', `--listen wants host:port, got "${options.listen}"`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const bootstrapRoot = options.bootstrapRoot ? toPem('CERTIFICATE', await readCertificate(options.bootstrapRoot, '--bootstrap-root')) : undefined;
  let authKeyHex: string | undefined;
  if (options.authKeySource || ctx.env.KEYWARD_CA_AUTH_KEY) {
    const secret = await existingSecret(ctx, 'CA auth key (hex)', { file: options.authKeySource, envVar: 'KEYWARD_CA_AUTH_KEY' });
    authKeyHex = await withSecrets([secret], async () => parseAuthKeyHex(secret.revealString()).toString('hex'));
  }
  return {
    dir: options.dir,
    ledger: options.ledger,
    host,
    port: Number(match[2]),
    tlsHosts: options.hostname ?? (options.tls ? [host, 'localhost'] : undefined),
    clientAuth: options.clientAuth,
    authKeyHex,
    requireAuthsign: options.requireAuthsign,
    ...(bootstrapRoot ? { bootstrapRoot, bootstrapUntil: Date.now() + options.bootstrapMinutes * 60_000 } : {}),
    drainMs: options.drain * 1000,
  };
}

function serveCaOptions(settings: ServeSettings, extra: Partial<ServeCaOptions> = {}): ServeCaOptions {
  return {
    host: settings.host,
    port: settings.port,
    tlsHosts: settings.tlsHosts,
    clientAuth: settings.clientAuth,
    authKeys: new Map(settings.authKeyHex ? [['default', Buffer.from(settings.authKeyHex, 'hex')]] : []),
    requireAuthsign: settings.requireAuthsign,
    ...(settings.bootstrapRoot ? { bootstrapRoot: settings.bootstrapRoot, bootstrapMs: Math.max(0, settings.bootstrapUntil! - Date.now()) } : {}),
    limits: { drainMs: settings.drainMs },
    log: serverLog,
    ...extra,
  };
}

/** What one write(2) to a pipe may hold and still never be interleaved with another process's (POSIX PIPE_BUF on Linux). */
const PIPE_BUF = 4096;

/**
 * The server's log on stderr: a line a request, written once per turn of the event loop rather
 * than line by line, which under load cost a tenth of a certificate (to the server, and to
 * whoever reads the log). Each write holds whole lines and at most PIPE_BUF bytes, so that the
 * lines of workers writing to one pipe never interleave mid-line; what is pending at exit is
 * written then.
 */
const serverLog = (() => {
  let lines: string[] = [];
  let bytes = 0;
  let scheduled = false;
  let hooked = false;
  const flush = () => {
    scheduled = false;
    if (lines.length) process.stderr.write(lines.join(''));
    lines = [];
    bytes = 0;
  };
  return (line: string): void => {
    if (!hooked) hooked = Boolean(process.once('exit', flush));
    const text = `${line}\n`;
    const size = Buffer.byteLength(text);
    if (bytes + size > PIPE_BUF) flush();
    lines.push(text);
    bytes += size;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
})();

/**
 * One per core; one when the CA key is on a YubiKey, which signs one thing at a time whatever
 * asks it (more processes would only verify its PIN more often).
 */
async function defaultWorkers(settings: ServeSettings): Promise<number> {
  const { CaDirectory } = await import('../../src/ca/store.js');
  const key = new CaDirectory(settings.dir, { ledger: settings.ledger }).config().intermediateKey;
  return key?.text.startsWith('yubikey:') ? 1 : availableParallelism();
}

/** A CA server in this process: its key opened with `interaction` (a worker asks the primary's terminal). */
async function serveHere(ctx: CliContext, settings: ServeSettings, how: { interaction?: Interaction; signsCrls: boolean }): Promise<Serving> {
  const { serveCa } = await import('../../src/ca/server/serve.js');
  const { CaDirectory } = await import('../../src/ca/store.js');
  const keystore = ctx.keystore(how.interaction ? { interaction: how.interaction } : {});
  const served = await serveCa(new CaDirectory(settings.dir, { ledger: settings.ledger }), keystore, serveCaOptions(settings, { signsCrls: how.signsCrls }));
  return {
    url: served.url,
    clusterId: served.authority.policy.clusterId,
    close: () => served.close().then(() => keystore.close()),
  };
}
