/**
 * What the `keyward notary` commands share: the server options every command takes, the trust
 * directory, opening the GUN (verified) with the command's keystore, keys given on the command line
 * as device signers or public keys, and telling people what was published. Heavy modules load
 * inside these functions, when a command runs.
 */
import { Option, type Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '../context.js';
import type { NotaryContext, PublishReport } from '../../src/trust/notary/repository.js';
import type { NotaryKey } from '../../src/trust/notary/dialect.js';
import type { Signer } from '../../src/trust/signer.js';
import { collect } from '../options.js';

export interface ServerOptions {
  server?: string;
  tlsCa?: string;
  trustDir?: string;
}

/** --server, --tls-ca and --trust-dir, on every command. */
export function serverOptions(command: Command): Command {
  return command
    .addOption(new Option('--server <url>', 'the notary-server, https://host:port (default: KEYWARD_NOTARY_SERVER)'))
    .addOption(new Option('--tls-ca <file>', "CA certificates (PEM) that issued the server's TLS certificate (default: the system's)"))
    .addOption(
      new Option(
        '--trust-dir <dir>',
        "where Keyward keeps each GUN's trusted root and the URIs of its keys (default: KEYWARD_NOTARY_DIR, else ~/.local/share/keyward/notary)",
      ),
    );
}

export const keyOption = (description: string) => new Option('--key <uri>', `${description} (repeat for several)`).argParser(collect);

/** The trust directory: --trust-dir, KEYWARD_NOTARY_DIR, or under XDG_DATA_HOME. */
export function trustDirOf(ctx: CliContext, options: ServerOptions): string {
  return options.trustDir ?? ctx.env.KEYWARD_NOTARY_DIR ?? join(ctx.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'keyward', 'notary');
}

/** The notary context of a GUN from the command's options. */
export async function notaryContext(ctx: CliContext, gun: string, options: ServerOptions): Promise<NotaryContext> {
  const { keywardError } = await import('../../src/errors.js');
  const { NotaryServer } = await import('../../src/trust/notary/server.js');
  const { TrustStore } = await import('../../src/trust/notary/trust-store.js');
  const url = options.server ?? ctx.env.KEYWARD_NOTARY_SERVER;
  if (!url)
    throw keywardError('OPTION_MISSING', 'which notary-server? give --server URL (or set KEYWARD_NOTARY_SERVER)', {
      hint: 'e.g. --server https://notary.example:4443 --tls-ca notary-ca.pem',
    });
  let ca: Buffer | undefined;
  if (options.tlsCa) {
    const { readCertificates } = await import('../io.js');
    await readCertificates(options.tlsCa, '--tls-ca'); // refuses a file that holds no certificate, naming it
    const { readInput } = await import('../io.js');
    ca = readInput(options.tlsCa, '--tls-ca');
  }
  return { gun, server: new NotaryServer({ url, ca }), store: new TrustStore(trustDirOf(ctx, options)), keystore: ctx.keystore() };
}

/** Runs `work` with the command's context; always releases the devices. */
export async function withNotary<T>(command: Command, work: (ctx: CliContext) => Promise<T>): Promise<T> {
  const { CliContext } = await import('../context.js');
  const ctx = await CliContext.of(command);
  try {
    return await work(ctx);
  } finally {
    await ctx.keystore().close();
  }
}

/** Device signers for Keystore URIs (their PINs are asked when they sign). */
export async function signersOf(ctx: CliContext, uris: string[] = []): Promise<Signer[]> {
  const { deviceSigner } = await import('../../src/trust/signer.js');
  const out: Signer[] = [];
  for (const uri of uris) out.push(await deviceSigner(await ctx.keystore().open(uri)));
  return out;
}

/** A public key file (PEM public key or certificate) as a Notary key: a certificate becomes an x509 key. */
export async function publicKeyFile(path: string, flag: string): Promise<NotaryKey> {
  const [{ parseInput }, { fromPemOrDer, pemBlocks }, { notaryKeyFromSpki, x509Key }, { X509Certificate }] = await Promise.all([
    import('../io.js'),
    import('../../src/x509/pem.js'),
    import('../../src/trust/notary/dialect.js'),
    import('node:crypto'),
  ]);
  return parseInput(path, flag, (data) => {
    const certificates = pemBlocks(data, 'CERTIFICATE');
    if (certificates.length) return x509Key(new X509Certificate(certificates[0]!));
    return notaryKeyFromSpki(fromPemOrDer(data, 'PUBLIC KEY'));
  });
}

/** A publication for people: what was signed with which key, what was published, who signed the snapshot. */
export function describePublish(report: PublishReport): string[] {
  return [
    ...report.signed.map((s) => `signed ${s.role} with ${s.uri}`),
    `published ${report.published.map((p) => `${p.role} v${p.version}`).join(', ')}; snapshot signed by the ${report.snapshot}, timestamp by the server`,
  ];
}

/** Prints a change's outcome: `headline`, then the publication. */
export function emitPublish(ctx: CliContext, headline: string, report: PublishReport, extra: Record<string, unknown> = {}): void {
  ctx.emit({ change: headline, ...extra, ...report }, () => [headline, ...describePublish(report)].join('\n'));
}

/** The role of a signer name: "releases" is targets/releases. */
export const signerRole = (name: string) => (name.startsWith('targets/') ? name : `targets/${name}`);
