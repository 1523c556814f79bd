/**
 * The signature algorithm of a certificate (RFC 5280 §4.1.1.2), read straight from its DER: the
 * second element of the outer SEQUENCE. Node's X509Certificate does not say it, and loading x509
 * (tens of milliseconds) to check one field is too much for a command that only reads.
 */

/** The DER element at `offset`: its tag, where its contents start and end; undefined when it does not fit. */
function element(der: Uint8Array, offset: number): { tag: number; start: number; end: number } | undefined {
  if (offset + 2 > der.length) return undefined;
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets < 1 || octets > 4 || start + octets > der.length) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    start += octets;
  }
  return start + length <= der.length ? { tag, start, end: start + length } : undefined;
}

/** The dotted OID of a DER OBJECT IDENTIFIER's contents. */
function dotted(contents: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** The OID of the certificate's signatureAlgorithm, or undefined when the DER is not a certificate's shape. */
export function certificateSignatureOid(der: Uint8Array): string | undefined {
  const certificate = element(der, 0);
  const tbs = certificate && certificate.tag === 0x30 ? element(der, certificate.start) : undefined;
  const algorithm = tbs && tbs.tag === 0x30 ? element(der, tbs.end) : undefined;
  const oid = algorithm && algorithm.tag === 0x30 ? element(der, algorithm.start) : undefined;
  return oid && oid.tag === 0x06 ? dotted(der.subarray(oid.start, oid.end)) : undefined;
}

/** Signature algorithms over SHA-1 (RSA, ECDSA, DSA), which Notary refuses in root certificates. */
export const SHA1_SIGNATURE_OIDS = new Set(['1.2.840.113549.1.1.5', '1.2.840.10045.4.1', '1.2.840.10040.4.3', '1.3.14.3.2.29']);
