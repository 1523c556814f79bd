/**
 * Certification path building (RFC 5280 §6, the parts a closed PKI needs): from a certificate,
 * through the intermediates on offer, to a trusted root. At every link the issuer must carry the
 * child's issuer name and have signed it, be a CA (basicConstraints, keyCertSign when key usage is
 * given) within its path length, and be valid at the time asked. Where several certificates carry
 * the issuer's name (a renewed or a foreign one), each is tried; when no path reaches a root, the
 * failure reported is the one that got furthest, and it names the link that is missing.
 */
import { X509Certificate } from 'node:crypto';
import * as x509 from './peculiar.js';

export type PathFailureKind = 'issuer-missing' | 'issuer-foreign' | 'untrusted-root' | 'not-a-ca' | 'path-length' | 'expired';

export interface PathFailure {
  kind: PathFailureKind;
  message: string;
  /** The certificate the path could not go on from (or that failed), one line. */
  certificate: string;
  /** The issuer name it needed, one line, when that is the problem. */
  issuer?: string;
}

export type PathResult = { ok: true; path: X509Certificate[] } | { ok: false; failure: PathFailure };

export interface PathRequest {
  leaf: X509Certificate;
  /** Certificates a path may run through; offering one grants no trust. */
  intermediates: X509Certificate[];
  /** Trust anchors: a path ends when it reaches one of these. */
  roots: X509Certificate[];
  now?: Date;
}

/** Longer than any PKI here; a bound on loops through cross-signed certificates. */
const MAX_PATH = 8;

/** node:crypto prints a distinguished name one attribute a line; messages want one line. */
export const oneLineName = (name: string) => name.split('\n').join(', ');

const same = (a: X509Certificate, b: X509Certificate) => a.raw.equals(b.raw);
const selfIssued = (c: X509Certificate) => c.subject === c.issuer;

interface CaConstraints {
  ca: boolean;
  pathLength: number | undefined;
  keyCertSign: boolean;
}

function caConstraints(certificate: X509Certificate): CaConstraints {
  const parsed = new x509.X509Certificate(certificate.raw);
  const basic = parsed.getExtension(x509.BasicConstraintsExtension);
  const usage = parsed.getExtension(x509.KeyUsagesExtension);
  return {
    ca: basic?.ca === true,
    pathLength: basic?.pathLength,
    keyCertSign: !usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0,
  };
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.verify(issuer.publicKey);
  } catch {
    // A key type node cannot verify with is no signature we accept.
    return false;
  }
}

/** One link on its own: `issuer` names the child's issuer (and key identifier) and signed it. */
export function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && signedBy(child, issuer);
}

function validityProblem(certificate: X509Certificate, now: Date): PathFailure | undefined {
  if (now >= new Date(certificate.validFrom) && now <= new Date(certificate.validTo)) return undefined;
  const name = oneLineName(certificate.subject);
  return {
    kind: 'expired',
    certificate: name,
    message: `'${name}' is not valid on ${now.toISOString()} (valid ${certificate.validFrom} – ${certificate.validTo})`,
  };
}

/** Why `issuer` cannot be the next link above `path` (leaf first), if it cannot. */
function linkProblem(path: X509Certificate[], issuer: X509Certificate, now: Date): PathFailure | undefined {
  const child = path[path.length - 1]!;
  const childName = oneLineName(child.subject);
  const issuerName = oneLineName(issuer.subject);
  if (!signedBy(child, issuer)) {
    return {
      kind: 'issuer-foreign',
      certificate: childName,
      issuer: issuerName,
      message: `no certificate in the bundle issued '${childName}': the '${issuerName}' there has that name but another key (a foreign certificate); add the intermediate '${issuerName}' that signed it`,
    };
  }
  const constraints = caConstraints(issuer);
  if (!constraints.ca || !constraints.keyCertSign) {
    return {
      kind: 'not-a-ca',
      certificate: issuerName,
      message: `'${issuerName}' signed '${childName}' but may not issue certificates (${constraints.ca ? 'its key usage lacks keyCertSign' : 'basicConstraints does not say CA'})`,
    };
  }
  // RFC 5280 §6.1.4 (l, m): CA certificates below this one, self-issued ones not counted.
  const below = path.slice(1).filter((c) => !selfIssued(c)).length;
  if (constraints.pathLength !== undefined && below > constraints.pathLength) {
    return {
      kind: 'path-length',
      certificate: issuerName,
      message: `'${issuerName}' allows ${constraints.pathLength} intermediate CA certificate(s) below it; this path has ${below}`,
    };
  }
  return validityProblem(issuer, now);
}

/** Builds a path from `leaf` to one of `roots`, or says which link is missing or broken. */
export function buildCertificatePath(request: PathRequest): PathResult {
  const now = request.now ?? new Date();
  const pool: X509Certificate[] = [];
  for (const certificate of [...request.roots, ...request.intermediates]) {
    if (!pool.some((c) => same(c, certificate))) pool.push(certificate);
  }
  const trusted = (c: X509Certificate) => request.roots.some((root) => same(root, c));

  const extend = (path: X509Certificate[]): PathResult & { depth: number } => {
    const child = path[path.length - 1]!;
    if (trusted(child)) return { ok: true, path, depth: path.length };
    const childName = oneLineName(child.subject);
    const issuerName = oneLineName(child.issuer);
    const fail = (failure: PathFailure) => ({ ok: false as const, failure, depth: path.length });
    if (path.length >= MAX_PATH) {
      return fail({
        kind: 'path-length',
        certificate: childName,
        message: `no path of at most ${MAX_PATH} certificates leads from '${childName}' to a trusted root`,
      });
    }
    const named = pool.filter((c) => c.subject === child.issuer && !path.some((p) => same(p, c)));
    if (named.length === 0) {
      if (selfIssued(child)) {
        return fail({ kind: 'untrusted-root', certificate: childName, message: `the path ends at '${childName}', a self-signed root that is not trusted` });
      }
      return fail({
        kind: 'issuer-missing',
        certificate: childName,
        issuer: issuerName,
        message: `no certificate in the bundle issued '${childName}'; add the intermediate '${issuerName}' (or that root, if you mean to trust it)`,
      });
    }
    let furthest: (PathResult & { ok: false; depth: number }) | undefined;
    for (const issuer of named) {
      const problem = linkProblem(path, issuer, now);
      const result = problem ? fail(problem) : extend([...path, issuer]);
      if (result.ok) return result;
      if (!furthest || result.depth > furthest.depth) furthest = result;
    }
    return furthest!;
  };

  const expired = validityProblem(request.leaf, now);
  if (expired) return { ok: false, failure: expired };
  const result = extend([request.leaf]);
  return result.ok ? { ok: true, path: result.path } : { ok: false, failure: result.failure };
}
