/**
 * What each kind of certificate says (RFC 5280 extensions), in one place: the offline root, a
 * cluster's CA (self-signed, the anchor its swarm trusts) and the root's certificate for the same
 * key (pathLen 0, constrained to one cluster's names), a Swarm node, and a root cross-signed by its
 * predecessor during rotation.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { authorityKeyIdentifier, subjectKeyIdentifier } from '../x509/key-identifier.js';
import * as x509 from '../x509/peculiar.js';
import { NAME_OIDS } from './names.js';
import { distinguishedName } from './template.js';

const ku = x509.KeyUsageFlags;

/** Where relying parties fetch the issuer's CRL and certificate, when configured. */
export interface PublicationUrls {
  crl?: string;
  caIssuers?: string;
}

function publication(urls: PublicationUrls | undefined): x509.Extension[] {
  const out: x509.Extension[] = [];
  if (urls?.crl) out.push(new x509.CRLDistributionPointsExtension([urls.crl]));
  if (urls?.caIssuers) out.push(new x509.AuthorityInfoAccessExtension({ caIssuers: urls.caIssuers }));
  return out;
}

/** Root: a CA that may sign one more level (the cluster intermediates). */
export function rootExtensions(spki: Uint8Array): x509.Extension[] {
  return [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(ku.keyCertSign | ku.cRLSign, true), subjectKeyIdentifier(spki)];
}

/** A root's certificate re-issued by the previous root: the same subject, key and identifier. */
export function crossSignedExtensions(spki: Uint8Array, oldRootSpki: Uint8Array): x509.Extension[] {
  return [...rootExtensions(spki), authorityKeyIdentifier(oldRootSpki)];
}

/**
 * NameConstraints (RFC 5280 §4.2.1.10) permitting only directory names under O=<cluster ID>: DNS
 * constraints cannot cover Swarm's single-label node names, a directory name can.
 *
 * Not critical, as the CA/Browser Forum permits: Go's crypto/x509 (dockerd, the Docker CLI, every
 * Go client) does not process directoryName constraints and refuses any certificate that marks
 * them critical ("unhandled critical extension", golang/go#15196), while OpenSSL and Node's tls
 * enforce them either way. A swarm itself is pinned to its cluster by trusting only that
 * cluster's own CA certificate (clusterCaExtensions), not the offline root.
 */
export function clusterNameConstraints(clusterId: string): x509.Extension {
  const base = distinguishedName([[NAME_OIDS.organization, clusterId]]);
  const constraints = new asn.NameConstraints({
    permittedSubtrees: new asn.GeneralSubtrees([new asn.GeneralSubtree({ base: new asn.GeneralName({ directoryName: base }) })]),
  });
  return new x509.Extension(asn.id_ce_nameConstraints, false, AsnConvert.serialize(constraints));
}

/**
 * A cluster's CA as its swarm trusts it: self-signed by the cluster's issuing key (SwarmKit takes
 * only self-signed certificates as `--ca-cert`, and counts a node as rotated only when its
 * certificate's issuer has that certificate's subject and key). Its subject and key are those of
 * the root's certificate for the same key (intermediateExtensions), so one node certificate
 * verifies both ways: to this anchor in Swarm, to the offline root through the root's certificate.
 */
export function clusterCaExtensions(spki: Uint8Array): x509.Extension[] {
  return [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(ku.keyCertSign | ku.cRLSign, true), subjectKeyIdentifier(spki)];
}

/** The root's certificate for a cluster's CA key: it signs node certificates of that cluster only, and no further CAs. */
export function intermediateExtensions(spki: Uint8Array, rootSpki: Uint8Array, clusterId: string, urls?: PublicationUrls): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(ku.keyCertSign | ku.cRLSign, true),
    clusterNameConstraints(clusterId),
    subjectKeyIdentifier(spki),
    authorityKeyIdentifier(rootSpki),
    ...publication(urls),
  ];
}

/** What every Swarm node certificate of an issuer says: TLS server and client, not a CA. */
export function nodeFixedExtensions(issuerSpki: Uint8Array, urls?: PublicationUrls): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(ku.digitalSignature | ku.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    authorityKeyIdentifier(issuerSpki),
    ...publication(urls),
  ];
}

/** The CA server's own TLS certificate: a server in the cluster's namespace, named by its host names and IPs. */
export function serverExtensions(spki: Uint8Array, issuerSpki: Uint8Array, hosts: string[]): x509.Extension[] {
  const isIp = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(':');
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(ku.digitalSignature | ku.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(hosts.map((value) => ({ type: isIp(value) ? ('ip' as const) : ('dns' as const), value }))),
    subjectKeyIdentifier(spki),
    authorityKeyIdentifier(issuerSpki),
  ];
}
