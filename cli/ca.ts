/** `keyward ca …`: a cluster's PKI: offline root, cluster intermediate, node certificates, CRLs, rotation, join tokens, the cfssl-compatible server. */
import { Option, type Command } from 'commander';
import { REVOCATION_REASONS, type RevocationReason } from '../src/ca/ledger/ledger.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../src/crypto/algorithms.js';
import { UsageError } from '../src/errors.js';
import { toPem } from '../src/x509/pem.js';
import { CliContext, table } from './context.js';
import { withSecrets } from '../src/secret.js';
import { existingSecret } from './secrets.js';
import { examples } from './help.js';
import { readInput, writeOutput } from './io.js';
import { parsePositiveInt } from './key.js';

const dirOption = () => new Option('--dir <dir>', 'the CA directory (its certificates, ledger and CRLs; keys stay in their devices)').env('KEYWARD_CA_DIR').default('keyward-ca');
const generateOption = () => new Option('--generate <algorithm>', 'generate the key at that URI first').choices(KEY_ALGORITHMS);

async function withKeystore<T>(ctx: CliContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await ctx.keystore().close();
  }
}

/** `keyward ca`'s commands. */
export function defineCa(ca: Command): void {
  const root = ca.command('root').description('the offline root');
  root
    .command('create')
    .description('create the root: a self-signed CA certificate for a key in a device (20 years by default)')
    .requiredOption('--key <uri>', 'the root key, e.g. pkcs11:token=offline-root;object=root-2026')
    .addOption(generateOption())
    .option('--subject <dn>', 'the root\'s name', 'CN=swarm-ca')
    .option('--years <n>', 'validity in years', (v) => parsePositiveInt(v, '--years'), 20)
    .addOption(dirOption())
    .addHelpText('after', examples([
      "keyward ca root create --key 'pkcs11:token=offline-root;object=root' --generate p384 --dir ca/",
      "keyward ca root create --key 'yubikey:serial=12345678;slot=9c' --subject 'CN=Example Root CA, O=Example' --dir ca/",
    ]) + '\nRun it on the offline machine; afterwards the root key is needed only in ceremonies.\n')
    .action(async (options: { key: string; generate?: KeyAlgorithm; subject: string; years: number; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createRootCa } = await import('../src/ca/steps/root.js');
      const { CA_FILES, CaDirectory } = await import('../src/ca/store.js');
      const { certificatePem } = await import('../src/x509/certificate.js');
      const certificate = await withKeystore(ctx, () => createRootCa(new CaDirectory(options.dir), ctx.keystore(), options));
      ctx.emit({ subject: certificate.subject, notAfter: certificate.notAfter, certificate: certificatePem(certificate) }, () => `root "${certificate.subject}" valid until ${certificate.notAfter.toISOString()}\n  ${new CaDirectory(options.dir).path(CA_FILES.root)}`);
    });

  const intermediate = ca.command('intermediate').description('the cluster\'s issuing CA: made in a ceremony with the root, in one place or split between offline and online');
  intermediate
    .command('create')
    .description('sign a cluster intermediate with the root (a ceremony: the root key must be present)')
    .requiredOption('--root-key <uri>', 'the root\'s key')
    .option('--key <uri>', 'the intermediate\'s key, when its device is here: this directory becomes the cluster\'s CA')
    .addOption(generateOption())
    .option('--csr <file>', 'or the intermediate\'s CSR, from keyward ca intermediate request on the online side')
    .requiredOption('--cluster-id <id>', 'the cluster: certificates outside O=<cluster id> are refused by name constraints')
    .option('--days <n>', 'validity in days', (v) => parsePositiveInt(v, '--days'), 5 * 365)
    .option('--node-days <n>', 'validity of node certificates it issues', (v) => parsePositiveInt(v, '--node-days'), 90)
    .option('--crl-url <url>', 'where relying parties fetch CRLs (CRL distribution point)')
    .option('--ca-issuers-url <url>', 'where relying parties fetch the issuer certificate (AIA)')
    .option('-o, --out <file>', 'write the certificate here (with --csr: to carry back and install)')
    .addOption(dirOption())
    .addHelpText('after', examples([
      '# both keys at hand (one machine, or an HSM reachable from the ceremony):',
      "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root' --key 'pkcs11:token=ca-online;object=cluster-a' --generate p256 --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --dir ca/",
      '# the root offline, the intermediate key online: sign its CSR, carry the certificate back',
      "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root' --csr cluster-a.csr --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --out cluster-a.pem --dir offline-ca/",
    ]))
    .action(async (options: { rootKey: string; key?: string; generate?: KeyAlgorithm; csr?: string; clusterId: string; days: number; nodeDays: number; crlUrl?: string; caIssuersUrl?: string; out?: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createClusterIntermediate } = await import('../src/ca/steps/intermediate.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const { certificatePem } = await import('../src/x509/certificate.js');
      const urls = options.crlUrl || options.caIssuersUrl ? { crl: options.crlUrl, caIssuers: options.caIssuersUrl } : undefined;
      const csr = options.csr ? readInput(options.csr, 'the intermediate\'s CSR') : undefined;
      if (csr && !options.out) throw new UsageError('OUT_REQUIRED', 'with --csr, say where to write the certificate to carry back', { hint: 'add --out cluster.pem' });
      const certificate = await withKeystore(ctx, () => createClusterIntermediate(new CaDirectory(options.dir), ctx.keystore(), { ...options, csr, urls }));
      if (options.out) writeOutput(options.out, certificatePem(certificate), false);
      ctx.emit({ subject: certificate.subject, notAfter: certificate.notAfter, clusterId: options.clusterId, certificate: certificatePem(certificate) }, () =>
        [
          `intermediate "${certificate.subject}" for cluster ${options.clusterId}, valid until ${certificate.notAfter.toISOString()}`,
          ...(csr ? [`  carry ${options.out} and a copy of ${new CaDirectory(options.dir).dir} back: keyward ca intermediate install --cert … --root-dir …`] : []),
        ].join('\n'),
      );
    });
  intermediate
    .command('request')
    .description('online half of a split ceremony: make the intermediate\'s key here and a CSR for the offline root')
    .requiredOption('--key <uri>', 'the intermediate\'s key (the online CA key)')
    .addOption(generateOption())
    .requiredOption('--cluster-id <id>', 'the cluster it will serve')
    .option('--node-days <n>', 'validity of node certificates it will issue', (v) => parsePositiveInt(v, '--node-days'), 90)
    .requiredOption('-o, --out <file>', 'where to write the CSR (to carry to the ceremony)')
    .addOption(dirOption())
    .addHelpText('after', examples([
      "keyward ca intermediate request --key 'pkcs11:token=ca-online;object=cluster-a' --generate p256 --cluster-id 4tyrw0mhvfspaz3cqwtzmbkay --out cluster-a.csr --dir ca/",
      '# … in the ceremony: keyward ca intermediate create --csr cluster-a.csr …; then:',
      'keyward ca intermediate install --cert cluster-a.pem --root-dir /media/usb/offline-ca --dir ca/',
    ]))
    .action(async (options: { key: string; generate?: KeyAlgorithm; clusterId: string; nodeDays: number; out: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { requestClusterIntermediate } = await import('../src/ca/steps/intermediate.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const csr = await withKeystore(ctx, () => requestClusterIntermediate(new CaDirectory(options.dir), ctx.keystore(), options));
      writeOutput(options.out, csr, false);
      ctx.emit({ csr, clusterId: options.clusterId }, () => `CSR for the intermediate of cluster ${options.clusterId} written to ${options.out}; the root signs it in a ceremony`);
    });
  intermediate
    .command('install')
    .description('online half, afterwards: install the certificate the root signed, with the root\'s certificates and CRLs')
    .requiredOption('--cert <file>', 'the intermediate certificate from the ceremony')
    .requiredOption('--root-dir <dir>', 'a copy of the root\'s CA directory from the same ceremony (its roots, rotation state and CRLs are copied)')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca intermediate install --cert cluster-a.pem --root-dir /media/usb/offline-ca --dir ca/']))
    .action(async (options: { cert: string; rootDir: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { installClusterIntermediate } = await import('../src/ca/steps/intermediate.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const certificate = await withKeystore(ctx, () =>
        installClusterIntermediate(new CaDirectory(options.dir), ctx.keystore(), { certificate: readInput(options.cert, 'the intermediate certificate'), rootDirectory: new CaDirectory(options.rootDir) }),
      );
      ctx.emit({ subject: certificate.subject, notAfter: certificate.notAfter }, () => `intermediate "${certificate.subject}" installed; this CA can issue node certificates`);
    });

  ca.command('issue')
    .description('issue a node certificate from a CSR (the CA sets the subject: O=<cluster>, OU=<role>, CN=<node id>)')
    .requiredOption('--csr <file>', 'the CSR, PEM or DER ("-" for stdin)')
    .addOption(new Option('--role <role>', 'the node\'s role (default: the CSR\'s OU)').choices(['manager', 'worker']))
    .option('--node-id <id>', 'the node ID (default: the CSR\'s CN)')
    .option('--days <n>', 'validity in days (default: the CA\'s node days, 90)', (v) => parsePositiveInt(v, '--days'))
    .option('-o, --out <file>', 'write the certificate and chain (PEM) here')
    .addOption(dirOption())
    .addHelpText('after', examples([
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout node.key -subj '/OU=swarm-worker/CN=node-1' -out node.csr",
      'keyward ca issue --csr node.csr --out node.crt --dir ca/',
    ]))
    .action(async (options: { csr: string; role?: 'manager' | 'worker'; nodeId?: string; days?: number; out?: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { openAuthority } = await import('../src/ca/authority.js');
      const { roleOf } = await import('../src/ca/names.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const authority = await openAuthority(new CaDirectory(options.dir), ctx.keystore());
      try {
        const issued = await authority.issueNode(readInput(options.csr, 'the CSR'), { role: options.role ? roleOf(options.role) : undefined, nodeId: options.nodeId, days: options.days });
        if (options.out) writeOutput(options.out, issued.chainPem, false);
        ctx.emit({ serial: issued.serial, subject: issued.certificate.subject, notAfter: issued.certificate.notAfter, renewAt: issued.renewAt, certificate: issued.chainPem }, () => (options.out ? `issued ${issued.serial} to "${issued.certificate.subject}", renew at ${issued.renewAt.toISOString()}` : issued.chainPem));
      } finally {
        await authority.ledger.close();
        await ctx.keystore().close();
      }
    });

  ca.command('revoke')
    .description('revoke a certificate this CA issued (then publish a CRL: keyward ca crl)')
    .argument('<serial>', 'the serial number, hex (colons allowed)')
    .addOption(new Option('--reason <reason>', 'RFC 5280 reason').choices([...REVOCATION_REASONS]).default('unspecified'))
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca revoke 5c:1f:8e… --reason keyCompromise --dir ca/', 'keyward ca crl --dir ca/ --out crl.pem']))
    .action(async (serial: string, options: { reason: RevocationReason; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { revokeCertificate } = await import('../src/ca/steps/revocation.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const { entry, crl } = await revokeCertificate(new CaDirectory(options.dir), { serial, reason: options.reason });
      ctx.emit({ serial: entry.serial, subject: entry.subject, status: entry.status, reason: entry.revocationReason, publish: crl }, () =>
        `revoked ${entry.serial} ("${entry.subject}"): ${entry.revocationReason}; publish a new ${crl} CRL (keyward ca crl${crl === 'root' ? ' --issuer root' : ''})`,
      );
    });

  ca.command('crl')
    .description('sign a CRL: the intermediate\'s (online) or the root\'s (in a ceremony)')
    .addOption(new Option('--issuer <ca>', 'which CA signs').choices(['intermediate', 'root']).default('intermediate'))
    .option('--root-key <uri>', 'the root key (with --issuer root)')
    .option('--days <n>', 'until next update (default: 7 for the intermediate, 180 for the root)', (v) => parsePositiveInt(v, '--days'))
    .option('-o, --out <file>', 'also write it here')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca crl --dir ca/ --out crl.pem', 'openssl crl -in crl.pem -noout -text', "keyward ca crl --issuer root --root-key 'pkcs11:token=offline-root;object=root' --dir ca/"]))
    .action(async (options: { issuer: 'intermediate' | 'root'; rootKey?: string; days?: number; out?: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { signIntermediateCrl, signRootCrl } = await import('../src/ca/steps/revocation.js');
      const { CaDirectory, crlFile } = await import('../src/ca/store.js');
      const directory = new CaDirectory(options.dir);
      const crl = await withKeystore(ctx, () => {
        if (options.issuer === 'intermediate') return signIntermediateCrl(directory, ctx.keystore(), { days: options.days });
        const rootKey = options.rootKey ?? directory.config().rootKey;
        if (!rootKey) throw new UsageError('ROOT_KEY_REQUIRED', 'the root\'s CRL needs the root key', { hint: 'give --root-key <uri>' });
        return signRootCrl(directory, ctx.keystore(), { rootKey, days: options.days });
      });
      const pem = toPem('X509 CRL', new Uint8Array(crl.rawData));
      if (options.out) writeOutput(options.out, pem, false);
      ctx.emit({ issuer: crl.issuer, entries: crl.entries.length, nextUpdate: crl.nextUpdate, crl: pem, file: directory.path(crlFile(options.issuer)) }, () => `CRL of "${crl.issuer}" with ${crl.entries.length} revoked, next update ${crl.nextUpdate?.toISOString()}\n  ${directory.path(crlFile(options.issuer))}`);
    });

  const rotate = ca.command('rotate-root').description('replace the root without downtime: cross-sign, move nodes, retire the old root');
  rotate
    .command('begin')
    .description('a ceremony with both root keys: new root, cross-signed by the old; both trusted until finish')
    .requiredOption('--new-key <uri>', 'the new root\'s key')
    .addOption(generateOption())
    .option('--subject <dn>', 'the new root\'s name (default: the old root\'s)')
    .option('--years <n>', 'validity in years', (v) => parsePositiveInt(v, '--years'), 20)
    .addOption(dirOption())
    .addHelpText('after', examples([
      "keyward ca rotate-root begin --new-key 'pkcs11:token=offline-root;object=root-2027' --generate p384 --dir ca/",
      "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root-2027' --key 'pkcs11:token=ca-online;object=cluster-a-2027' --generate p256 --cluster-id <id> --dir ca/",
      '# … nodes renew under the new intermediate; then:',
      'keyward ca rotate-root finish --dir ca/',
    ]))
    .action(async (options: { newKey: string; generate?: KeyAlgorithm; subject?: string; years: number; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { beginRootRotation } = await import('../src/ca/steps/rotation.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const { certificatePem } = await import('../src/x509/certificate.js');
      const directory = new CaDirectory(options.dir);
      const { root: newRoot, crossSigned } = await withKeystore(ctx, () => beginRootRotation(directory, ctx.keystore(), options));
      ctx.emit({ root: certificatePem(newRoot), crossSigned: certificatePem(crossSigned) }, () => `new root "${newRoot.subject}" created and cross-signed by the old one; both are in roots.pem.\nNext: a new intermediate under the new root (keyward ca intermediate create --root-key '${directory.config().rootKey}' …).`);
    });
  rotate
    .command('finish')
    .description('retire the old root (once the intermediate is issued by the new one)')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca rotate-root finish --dir ca/']))
    .action(async (options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { finishRootRotation } = await import('../src/ca/steps/rotation.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      await finishRootRotation(new CaDirectory(options.dir));
      ctx.emit({ finished: true }, () => 'old root retired: roots.pem holds only the new root');
    });

  ca.command('status')
    .description('roots, intermediate, and every issued certificate with its renewal time')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca status --dir ca/', 'keyward ca status --dir ca/ --json | jq ".certificates[] | {subject, renewAt}"']))
    .action(async (options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { caStatus } = await import('../src/ca/steps/status.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const status = await caStatus(new CaDirectory(options.dir));
      ctx.emit(status, () =>
        [
          `CA ${status.dir}${status.clusterId ? ` (cluster ${status.clusterId})` : ''}${status.rotationInProgress ? '  ROOT ROTATION IN PROGRESS' : ''}`,
          ...status.roots.map((r) => `  root: ${r.subject}  until ${r.notAfter}  sha256 ${r.sha256.slice(0, 16)}…`),
          status.intermediate ? `  intermediate: ${status.intermediate.subject}  until ${status.intermediate.notAfter}\n    key ${status.intermediate.key}` : '  no intermediate yet',
          `  certificates: ${status.counts.issued} valid, ${status.counts.revoked} revoked, ${status.counts.expired} expired`,
          ...(status.certificates.length
            ? [table([['SERIAL', 'SUBJECT', 'STATUS', 'RENEW AT', 'NOT AFTER'], ...status.certificates.map((c) => [c.serial.slice(0, 16), c.subject, c.status, c.renewAt.slice(0, 16), c.notAfter.slice(0, 16)])])]
            : []),
        ].join('\n'),
      );
    });

  const joinToken = ca.command('join-token').description('Swarm join tokens: SWMTKN-1-<root digest>-<secret>');
  joinToken
    .command('create')
    .description('a join token that pins this CA\'s root bundle (print it only where it is needed)')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca join-token create --dir ca/']))
    .action(async (options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createJoinToken } = await import('../src/ca/join-token.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const token = createJoinToken(new CaDirectory(options.dir).rootBundle());
      ctx.emit({ token }, () => token);
    });
  joinToken
    .command('verify')
    .description('check that a join token pins a root bundle')
    .argument('<token>', 'the token')
    .option('--roots <file>', 'the root bundle (default: the CA directory\'s roots.pem)')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca join-token verify SWMTKN-1-… --roots roots.pem']))
    .action(async (token: string, options: { roots?: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { verifyJoinToken } = await import('../src/ca/join-token.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const bundle = options.roots ? readInput(options.roots, 'the root bundle') : new CaDirectory(options.dir).rootBundle();
      verifyJoinToken(token, bundle);
      ctx.emit({ valid: true }, () => 'the token pins this root bundle');
    });

  ca.command('serve')
    .description('serve cfssl\'s remote-signing API (sign, authsign, info) with the intermediate\'s key in its device')
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:8888')
    .option('--tls', 'serve HTTPS (a server key in memory only, certified by this CA for 7 days, renewed every 3.5)')
    .option('--hostname <name...>', 'names and IPs for the server certificate (implies --tls; default: the listen host, localhost)')
    .addOption(new Option('--client-auth <who>', 'mutual TLS: which client certificates may ask').choices(['none', 'cluster', 'managers']).default('none'))
    .option('--auth-key-source <file>', 'the HMAC key for /authsign, hex, from a file (else KEYWARD_CA_AUTH_KEY)')
    .option('--require-authsign', 'refuse unauthenticated /sign requests')
    .addOption(dirOption())
    .option('--drain <seconds>', 'on SIGTERM or SIGINT: how long requests in flight may take to finish', (v) => parsePositiveInt(v, '--drain'), 10)
    .addHelpText('after', examples([
      'keyward ca serve --dir ca/ --listen 127.0.0.1:8888',
      'cfssl sign -remote http://127.0.0.1:8888 node.csr',
      'keyward ca serve --dir ca/ --listen 0.0.0.0:8888 --hostname ca.example --client-auth managers',
      'docker swarm init --external-ca protocol=cfssl,url=https://ca.example:8888 --ca-cert ca/roots.pem',
    ]) + `
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
  a worker's certificate (--client-auth managers), another cluster's, or none: nothing (403)

Limits: 64 KiB a body, 8 MiB of bodies in flight, 512 connections, 10 s to complete a TLS
handshake or send headers, 30 s for a whole request. SIGTERM stops accepting, lets requests in
flight finish for --drain seconds, then exits 0.
`)
    .action(async (options: { listen: string; tls?: boolean; hostname?: string[]; clientAuth: 'none' | 'cluster' | 'managers'; authKeySource?: string; requireAuthsign?: boolean; drain: number; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { parseAuthKeyHex } = await import('../src/ca/server/cfssl-api.js');
      const { serveCa } = await import('../src/ca/server/serve.js');
      const { CaDirectory } = await import('../src/ca/store.js');
      const match = /^(.*):(\d+)$/.exec(options.listen);
      if (!match) throw new UsageError('LISTEN_INVALID', `--listen wants host:port, got "${options.listen}"`);
      const host = match[1]!.replace(/^\[|\]$/g, '');
      const authKeys = new Map<string, Buffer>();
      if (options.authKeySource || process.env.KEYWARD_CA_AUTH_KEY) {
        const secret = await existingSecret(ctx, 'CA auth key (hex)', { file: options.authKeySource, envVar: 'KEYWARD_CA_AUTH_KEY' });
        authKeys.set('default', await withSecrets([secret], async () => parseAuthKeyHex(secret.revealString())));
      }
      const served = await serveCa(new CaDirectory(options.dir), ctx.keystore(), {
        host,
        port: Number(match[2]),
        tlsHosts: options.hostname ?? (options.tls ? [host, 'localhost'] : undefined),
        clientAuth: options.clientAuth,
        authKeys,
        requireAuthsign: options.requireAuthsign,
        limits: { drainMs: options.drain * 1000 },
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stderr.write(`Keyward CA for cluster ${served.authority.policy.clusterId} serving cfssl's API at ${served.url}${options.clientAuth !== 'none' ? ` (client certificates: ${options.clientAuth})` : ''}${authKeys.size ? ', authsign enabled' : ''}\n`);
      ctx.emit({ url: served.url, clusterId: served.authority.policy.clusterId }, () => '');
      await new Promise<void>((resolve, reject) => {
        const stop = (signal: string) => {
          process.stderr.write(`${signal}: no new connections; finishing requests in flight (at most ${options.drain} s)\n`);
          served.close().then(() => ctx.keystore().close()).then(resolve, reject);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stderr.write('stopped\n');
    });
}
