/**
 * Running a cluster CA as a service: the issuing key stays in its device; the server's own TLS key
 * is made fresh in memory (never written anywhere), certified for a few days by the CA itself, so
 * the server chains to the cluster's root like every node, and replaced at half that life.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { keywardError } from '../../errors.js';
import type { Keystore } from '../../keystore/keystore.js';
import { openAuthority, type Authority } from '../authority.js';
import { normalizeSerial } from '../ledger/ledger.js';
import { CA_FILES, crlFile, type CaDirectory } from '../store.js';
import * as x509 from '../../x509/peculiar.js';
import { CfsslApi, checkApiOptions, type ApiOptions } from './cfssl-api.js';
import { checkBootstrapRoot, type ClientTrust } from './peers.js';
import { startCaServer, type RunningServer, type ServerLimits, type TlsSettings } from './server.js';

export interface ServeCaOptions {
  host?: string;
  port?: number;
  /** Serve HTTPS, with a server certificate for these host names and IPs. */
  tlsHosts?: string[];
  /** Mutual TLS: which clients may ask (needs TLS). */
  clientAuth?: 'none' | 'cluster' | 'managers';
  /**
   * A swarm's own root (PEM, as `docker swarm ca` prints it): during the swarm's first rotation to
   * this CA its managers hold only certificates from it, so with mutual TLS they are admitted with
   * those for `bootstrapMs` from start-up (peers.ts), and never after.
   */
  bootstrapRoot?: string;
  bootstrapMs?: number;
  /** HMAC keys for /authsign (hex in files or variables is the caller's business: bytes here). */
  authKeys?: Map<string, Buffer>;
  requireAuthsign?: boolean;
  /** What clients may hold at most (connections, time, memory): defaults in server.ts. */
  limits?: Partial<ServerLimits>;
  /** How often the server's TLS key and certificate are renewed (default: half their 7 days). */
  serverRenewMs?: number;
  /** How often CRLs are reloaded, and the intermediate's signed again past half its life (default: a minute). */
  crlReloadMs?: number;
  log?: (line: string) => void;
}

const CRL_RELOAD_MS = 60_000;
/** How long a swarm's own root is trusted by default: its managers get their first certificates within minutes. */
export const BOOTSTRAP_MS = 3_600_000;
const SERVER_CERTIFICATE_DAYS = 7;
const RENEWAL_RETRY_MS = 3_600_000;

function currentCrls(directory: CaDirectory): string[] {
  return (['intermediate', 'root', 'previous-root'] as const).map((role) => directory.read(crlFile(role))).filter((c): c is string => Boolean(c));
}

/** The serials the cluster CA's current CRL lists. */
function revokedSerials(directory: CaDirectory): Set<string> {
  const pem = directory.read(crlFile('intermediate'));
  return new Set(pem ? new x509.X509Crl(pem).entries.map((entry) => normalizeSerial(entry.serialNumber)) : []);
}

/** Signs the intermediate's CRL again once it is past half its life (or missing or unreadable). */
async function renewIntermediateCrl(directory: CaDirectory, authority: Authority): Promise<void> {
  const halfLife = (() => {
    try {
      const crl = new x509.X509Crl(directory.read(crlFile('intermediate')) ?? '');
      return crl.nextUpdate ? (crl.thisUpdate.getTime() + crl.nextUpdate.getTime()) / 2 : 0;
    } catch {
      return 0;
    }
  })();
  if (Date.now() >= halfLife) directory.saveCrl('intermediate', await authority.crl());
}

export interface ServedCa extends RunningServer {
  authority: Authority;
}

/** The server's TLS identity: a key made now, in memory only, certified by the CA for a few days. */
async function serverIdentity(authority: Authority, hosts: string[]): Promise<{ key: string; cert: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await authority.issueServer(publicKey.export({ type: 'spki', format: 'der' }), hosts, SERVER_CERTIFICATE_DAYS);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: issued.chainPem };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Whoever can reach an unauthenticated signing API gets a cluster identity, so only this machine
 * may reach one: off loopback, the server must be HTTPS and every caller must prove who it is.
 */
function checkExposure(host: string, tls: boolean, clientAuth: string, requireAuthsign: boolean): void {
  if (clientAuth !== 'none' && !tls) throw keywardError('MTLS_NEEDS_TLS', 'client certificates need HTTPS', { hint: 'add --tls' });
  if (isLoopback(host)) return;
  if (!tls) {
    throw keywardError('EXPOSED_WITHOUT_TLS', `refusing to serve the CA over plain HTTP on ${host}, beyond this machine`, {
      hint: 'add --tls, or listen on 127.0.0.1',
    });
  }
  if (clientAuth === 'none' && !requireAuthsign) {
    throw keywardError('EXPOSED_WITHOUT_AUTH', `refusing to sign for anyone who can reach ${host}: every caller would get a node certificate of the cluster`, {
      hint: 'require client certificates (--client-auth managers, as Docker Swarm presents) or HMAC-authenticated requests (--require-authsign), or listen on 127.0.0.1',
    });
  }
}

export async function serveCa(directory: CaDirectory, keystore: Keystore, options: ServeCaOptions = {}): Promise<ServedCa> {
  const clientAuth = options.clientAuth ?? 'none';
  const apiOptions: ApiOptions = {
    authKeys: options.authKeys,
    requireAuthsign: options.requireAuthsign,
    callers: clientAuth === 'none' ? 'any' : clientAuth,
    log: options.log,
  };
  // Refused before the CA key is opened: nobody types a PIN for a server that will not start.
  checkApiOptions(apiOptions);
  checkExposure(options.host ?? '127.0.0.1', Boolean(options.tlsHosts?.length), clientAuth, options.requireAuthsign ?? false);
  const mtls = clientAuth !== 'none';
  if (options.bootstrapRoot !== undefined && !mtls) {
    throw keywardError('BOOTSTRAP_NEEDS_MTLS', 'a bootstrap root admits client certificates, so it needs mutual TLS', {
      hint: 'add --client-auth managers (or cluster)',
    });
  }
  const bootstrap =
    options.bootstrapRoot === undefined
      ? undefined
      : { root: checkBootstrapRoot(options.bootstrapRoot), until: new Date(Date.now() + (options.bootstrapMs ?? BOOTSTRAP_MS)) };
  const authority = await openAuthority(directory, keystore);
  // Client chains end at the cluster CA (as Swarm's nodes hold them) or at a root (through the root's certificate for it).
  const clientTrust = (): ClientTrust => ({
    anchors: (directory.read(CA_FILES.clusterCa) ?? '') + directory.rootBundle(),
    crl: currentCrls(directory),
    bootstrap,
  });
  let tls: TlsSettings | undefined;
  if (options.tlsHosts?.length) {
    // Once any CRL is given, OpenSSL wants one for every CA of a client's chain: start with a fresh one of ours.
    if (mtls) directory.saveCrl('intermediate', await authority.crl());
    tls = { ...(await serverIdentity(authority, options.tlsHosts)), ...(mtls ? { clients: clientTrust() } : {}) };
    if (bootstrap) options.log?.(`managers with certificates from the swarm's own root are admitted until ${bootstrap.until.toISOString()}`);
  }
  const api = new CfsslApi(authority, apiOptions);
  const running = await startCaServer({ api, host: options.host, port: options.port, tls, log: options.log, limits: options.limits });
  const refresh = (changes: Partial<TlsSettings>) => {
    tls = { ...tls!, ...changes };
    running.updateTls(tls);
  };
  let closed = false;
  let renewal: NodeJS.Timeout | undefined;
  let crlReload: NodeJS.Timeout | undefined;
  // When the bootstrap ends, so do the connections it admitted (a client that keeps asking keeps its connection alive).
  const bootstrapEnd = bootstrap
    ? setTimeout(() => {
        running.disconnectClients(
          (peer) => peer.checkIssued(bootstrap.root) && peer.verify(bootstrap.root.publicKey),
          "the bootstrap with the swarm's own root is over",
        );
      }, bootstrap.until.getTime() - Date.now()).unref()
    : undefined;
  if (tls) {
    // A new key and certificate at half the certificate's life, so a server that runs for months never
    // presents an expired one; a failed renewal is tried again within the hour, long before expiry.
    const every = options.serverRenewMs ?? (SERVER_CERTIFICATE_DAYS * 86_400_000) / 2;
    const scheduleRenewal = (delay: number) => {
      if (closed) return; // a renewal that finished after close() starts no other
      renewal = setTimeout(() => {
        serverIdentity(authority, options.tlsHosts!).then(
          (identity) => {
            refresh(identity);
            scheduleRenewal(every);
          },
          (error: Error) => {
            options.log?.(`could not renew the server's TLS certificate, trying again within the hour: ${error.message}`);
            scheduleRenewal(Math.min(every, RENEWAL_RETRY_MS));
          },
        );
      }, delay).unref();
    };
    scheduleRenewal(every);
    // Revocations made meanwhile (keyward ca revoke, ca crl) reach new connections within a minute,
    // and close the connections already open with a revoked certificate; the intermediate's CRL is
    // signed again at half its life, since an expired one refuses every client.
    if (mtls) {
      const issuer = new X509Certificate(Buffer.from(authority.certificate.rawData));
      const reload = () => {
        refresh({ clients: clientTrust() });
        const revoked = revokedSerials(directory);
        running.disconnectClients((peer) => revoked.has(normalizeSerial(peer.serialNumber)) && peer.checkIssued(issuer), 'its certificate has been revoked');
      };
      crlReload = setInterval(() => {
        renewIntermediateCrl(directory, authority)
          .catch((error: Error) => options.log?.(`could not sign a fresh CRL, trying again in a minute: ${error.message}`))
          .then(reload)
          .catch((error: Error) => options.log?.(`could not reload the CRLs, trying again in a minute: ${error.message}`));
      }, options.crlReloadMs ?? CRL_RELOAD_MS).unref();
    }
  }
  return {
    ...running,
    authority,
    close: async () => {
      closed = true;
      clearTimeout(renewal);
      clearTimeout(bootstrapEnd);
      clearInterval(crlReload);
      await running.close();
      await authority.ledger.close();
    },
  };
}
