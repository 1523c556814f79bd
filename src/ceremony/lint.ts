/**
 * Linting a CA certificate before the hardware key signs it: the draft (the same to-be-signed bytes,
 * signed by a throw-away key) is checked against what its profile must be and what the script
 * said: RFC 5280's rules for CA certificates, validity caps, key usage, basic constraints and path
 * length, name constraints to the cluster, key identifiers chaining to the issuer. Independent of
 * how src/ca built it: these are the checks a reviewer would make by hand.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as x509 from '../x509/peculiar.js';
import { clusterNameConstraints } from '../ca/profiles.js';
import { intermediateSubject } from '../ca/issue.js';

export interface LintFinding {
  check: string;
  ok: boolean;
  detail: string;
}

export interface LintExpectations {
  /** The issuer's certificate (absent: self-signed). */
  issuer?: x509.X509Certificate;
  subject?: string;
  clusterId?: string;
}

const YEAR_MS = 366 * 86_400_000;
/** The longest each profile may be valid: a root 25 years, the rest 10 (and never past the issuer). */
const MAX_YEARS: Record<string, number> = { root: 25, 'cross-signed-root': 25, intermediate: 10, 'cluster-ca': 10 };
/** Extensions a CA certificate may mark critical. */
const CRITICAL_ALLOWED = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.30']);

export function lintCertificate(draft: x509.X509Certificate, profile: string, expect: LintExpectations): LintFinding[] {
  const findings: LintFinding[] = [];
  const check = (name: string, ok: boolean, detail: string) => findings.push({ check: name, ok, detail });
  const tbs = AsnConvert.parse(draft.rawData, Certificate).tbsCertificate;

  check('version', tbs.version === 2, `X.509 v${tbs.version + 1}`);
  const serial = Buffer.from(tbs.serialNumber);
  check('serial', serial.length <= 20 && (serial[0] ?? 0) < 0x80 && serial.some((b) => b !== 0), `${serial.length} bytes, positive, not zero`);
  const lifetime = draft.notAfter.getTime() - draft.notBefore.getTime();
  check('validity', lifetime > 0, `${draft.notBefore.toISOString()} to ${draft.notAfter.toISOString()}`);
  const maxYears = MAX_YEARS[profile] ?? 10;
  check('validity cap', lifetime <= maxYears * YEAR_MS, `at most ${maxYears} years for a ${profile} certificate`);
  if (expect.issuer) {
    check('within issuer', draft.notAfter <= expect.issuer.notAfter, `ends by the issuer's end, ${expect.issuer.notAfter.toISOString()}`);
    check('issuer name', draft.issuer === expect.issuer.subject, `issued by "${expect.issuer.subject}"`);
  } else {
    check('self-issued', draft.issuer === draft.subject, `issuer and subject "${draft.subject}"`);
  }
  check('subject', draft.subject !== '', `"${draft.subject}"`);
  const expectedSubject = expect.subject ?? (profile === 'intermediate' && expect.clusterId ? intermediateSubject(expect.clusterId) : undefined);
  if (expectedSubject !== undefined) {
    check('subject as scripted', draft.subjectName.toString() === new x509.Name(expectedSubject).toString(), `"${expectedSubject}"`);
  }

  const basic = draft.getExtension(x509.BasicConstraintsExtension);
  check('basic constraints', basic?.critical === true && basic.ca, 'critical, CA');
  const pathLength = profile === 'intermediate' || profile === 'cluster-ca' ? 0 : 1;
  check('path length', basic?.pathLength === pathLength, `pathLen ${pathLength}`);
  const usage = draft.getExtension(x509.KeyUsagesExtension);
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  check('key usage', usage?.critical === true && (usage.usages & needed) === needed, 'critical, keyCertSign and cRLSign');
  check(
    'no end-entity usage',
    !draft.getExtension(x509.ExtendedKeyUsageExtension) && ((usage?.usages ?? 0) & x509.KeyUsageFlags.keyEncipherment) === 0,
    'no extended key usage, no keyEncipherment',
  );
  const ski = draft.getExtension(x509.SubjectKeyIdentifierExtension);
  check('subject key identifier', ski !== null && !ski.critical, 'present, not critical');
  if (expect.issuer) {
    const aki = draft.getExtension(x509.AuthorityKeyIdentifierExtension);
    const issuerSki = expect.issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    check('authority key identifier', aki?.keyId !== undefined && aki.keyId === issuerSki, "the issuer's subject key identifier");
  }
  const unknownCritical = draft.extensions.filter((e) => e.critical && !CRITICAL_ALLOWED.has(e.type)).map((e) => e.type);
  check('critical extensions', unknownCritical.length === 0, unknownCritical.length ? `unexpected: ${unknownCritical.join(', ')}` : 'only the CA ones');
  const constraints = draft.extensions.find((e) => e.type === '2.5.29.30');
  if (profile === 'intermediate' && expect.clusterId) {
    const wanted = clusterNameConstraints(expect.clusterId);
    check(
      'name constraints',
      constraints !== undefined && Buffer.from(constraints.value).equals(Buffer.from(wanted.value)),
      `permitted O=${expect.clusterId} only`,
    );
  } else if (profile === 'root' || profile === 'cross-signed-root') {
    check('name constraints', constraints === undefined, 'none on a root');
  }
  return findings;
}
