/**
 * What a Docker swarm needs to move its CA to this one: `docker swarm ca --rotate` with the cluster
 * CA certificate (SwarmKit takes only self-signed certificates as `--ca-cert`, and checks that it
 * will last a year) and the external CA's URL exactly as SwarmKit posts to it (its path included;
 * ca/external.go does not add one). Read from SwarmKit's manager/controlapi/ca_rotation.go.
 */
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { keywardError } from '../errors.js';
import { CA_FILES, type CaDirectory } from './store.js';

/** cfssl's signing endpoint: SwarmKit posts to the URL it is given, so the URL must name it. */
export const SIGN_PATH = '/api/v1/cfssl/sign';
/** SwarmKit refuses a new CA certificate that expires within a year (minRootExpiration). */
const SWARM_MIN_CA_DAYS = 365;

export interface SwarmRotation {
  /** The file Swarm must trust: the cluster CA certificate. */
  caCert: string;
  /** The `--external-ca` value. */
  externalCa: string;
  /** The whole command, quoted for a POSIX shell. */
  command: string;
}

/** Single-quotes a word for a POSIX shell when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The CA server's URL as SwarmKit must be given it: HTTPS (SwarmKit dials nothing else), ending in the signing path. */
export function externalCaUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw keywardError('SWARM_URL_INVALID', `"${url}" is not a URL`, { hint: 'give where keyward ca serve --tls listens, e.g. https://ca.example:8888' });
  }
  if (parsed.protocol !== 'https:') {
    throw keywardError('SWARM_URL_NOT_HTTPS', `SwarmKit reaches an external CA over HTTPS only, not ${parsed.protocol}`, {
      hint: 'serve with keyward ca serve --tls, and give its https:// URL',
    });
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw keywardError('SWARM_URL_INVALID', 'the external CA URL takes no query, fragment or credentials', { hint: 'give https://HOST:PORT' });
  }
  if (parsed.pathname !== '/' && parsed.pathname !== SIGN_PATH) {
    throw keywardError('SWARM_URL_INVALID', `the path ${parsed.pathname} is not cfssl's signing endpoint`, {
      hint: `give https://HOST:PORT; Keyward adds ${SIGN_PATH}`,
    });
  }
  return `${parsed.origin}${SIGN_PATH}`;
}

/** The `docker swarm ca --rotate` that makes a swarm trust this cluster CA and ask `url` for its certificates. */
export function swarmRotation(directory: CaDirectory, url: string): SwarmRotation {
  directory.requireCa();
  const clusterCa = directory.clusterCa();
  if (!clusterCa) {
    throw keywardError('CA_NOT_FOR_SWARM', `${directory.dir} has no cluster CA certificate for a swarm to trust (${CA_FILES.clusterCa})`, {
      hint: 'make the cluster CA with keyward ca intermediate create (or request, create --csr, install); intermediates made before Keyward 0.1 have none',
    });
  }
  const daysLeft = (clusterCa.notAfter.getTime() - Date.now()) / 86_400_000;
  if (daysLeft < SWARM_MIN_CA_DAYS) {
    throw keywardError(
      'CA_EXPIRES_TOO_SOON',
      `the cluster CA expires on ${clusterCa.notAfter.toISOString()}; Swarm refuses a CA certificate that expires within a year`,
      {
        hint: 'make a new cluster intermediate with --days 365 or more (the default is five years)',
      },
    );
  }
  const caCert = directory.path(CA_FILES.clusterCa);
  // The Docker CLI reads --external-ca as comma-separated key=value pairs: a comma would split the path.
  if (/[,"]/.test(caCert))
    throw keywardError('SWARM_PATH_UNSUPPORTED', `the Docker CLI cannot take a path with a comma or a quote in --external-ca: ${caCert}`, {
      hint: 'move the CA directory to a plainer path',
    });
  const externalCa = `protocol=cfssl,url=${externalCaUrl(url)},cacert=${caCert}`;
  return { caCert, externalCa, command: ['docker', 'swarm', 'ca', '--rotate', '--ca-cert', caCert, '--external-ca', externalCa].map(shellWord).join(' ') };
}

/** Network errors that mean "not listening yet": worth another try while the caller waits. */
const NOT_YET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT']);

/** The host a URL names, as a TLS client and --hostname take it: an IPv6 address without its brackets. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

/** One TLS handshake with the server, as SwarmKit's check makes it: its certificate must chain to the cluster CA and name the host. */
function handshake(url: URL, clusterCaPem: string): Promise<void> {
  const host = hostOf(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host, port: Number(url.port || 443), ca: clusterCaPem, minVersion: 'TLSv1.2', ...(isIP(host) ? {} : { servername: host }), timeout: 5_000 },
      () => {
        socket.destroy();
        resolve();
      },
    );
    socket.once('timeout', () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    socket.once('error', reject);
  });
}

/**
 * Waits (up to `waitMs`) until the CA server at `url` answers with a certificate that chains to the
 * cluster CA and names its host: what SwarmKit checks before it rotates ("there must be at least
 * one valid, reachable external CA"), said here in words that name the fix.
 */
export async function checkExternalCa(directory: CaDirectory, url: string, waitMs: number): Promise<void> {
  const target = new URL(externalCaUrl(url));
  const clusterCaPem = directory.read(CA_FILES.clusterCa) ?? '';
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await handshake(target, clusterCaPem);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (NOT_YET.has(code) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (NOT_YET.has(code) || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
        throw keywardError('CA_SERVER_UNREACHABLE', `nothing answers at ${target.origin} (${code}); the swarm would refuse the rotation`, {
          hint: `start it first: keyward ca serve --tls --hostname ${hostOf(target)} --listen …:${target.port || 443} --dir ${directory.dir} (or print the command without checking: --no-check)`,
        });
      }
      throw keywardError(
        'CA_SERVER_UNTRUSTED',
        `the server at ${target.origin} does not present a certificate of this cluster CA for "${target.hostname}": ${(error as Error).message}`,
        {
          hint: `serve this CA directory there, with --hostname ${hostOf(target)} (the name the managers dial)`,
        },
      );
    }
  }
}
