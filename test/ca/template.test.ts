/**
 * The per-certificate DER that the issuing template writes directly, against what asn1-schema
 * encodes from the same values: byte for byte, over random subjects, names, dates, serials, keys
 * and issuers' algorithms.
 */
import test from 'ava';
import fc from 'fast-check';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { ALGORITHMS, signatureAlgorithmOid, type KeyAlgorithm } from '../../src/crypto/algorithms.js';
import { createRoot } from '../../src/ca/issue.js';
import { NAME_OIDS } from '../../src/ca/names.js';
import { nodeFixedExtensions } from '../../src/ca/profiles.js';
import { CertificateTemplate, distinguishedName, distinguishedNameDer } from '../../src/ca/template.js';
import { SigningKey } from '../../src/certificates/signer.js';
import { MemoryKeyHandle } from '../../src/keystore/memory-key.js';
import { X509Certificate } from '../../src/x509/peculiar.js';

/** A Name as the template wrote it before: asn1-schema objects, PrintableString where the characters allow. */
function referenceName(attributes: Array<[string, string]>): asn.Name {
  const value = (v: string) =>
    /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(v) ? new asn.AttributeValue({ printableString: v }) : new asn.AttributeValue({ utf8String: v });
  return new asn.Name(attributes.map(([type, v]) => new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type, value: value(v) })])));
}

const attributes = fc.array(
  fc.tuple(fc.constantFrom(...Object.values(NAME_OIDS)), fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }))),
  { maxLength: 5 },
);

test('property: a Name is what asn1-schema encodes, PrintableString where it can be, UTF8String otherwise', (t) => {
  fc.assert(
    fc.property(attributes, (attrs) => {
      t.deepEqual(distinguishedNameDer(attrs), new Uint8Array(AsnConvert.serialize(referenceName(attrs))));
      t.deepEqual(AsnConvert.serialize(distinguishedName(attrs)), AsnConvert.serialize(referenceName(attrs)));
    }),
    { numRuns: 500 },
  );
});

const subjectKeys = (['p256', 'rsa2048', 'ed25519'] as const).map((type) => {
  const key =
    type === 'p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa2048'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
  return { spki, decoded: AsnConvert.parse(spki, asn.SubjectPublicKeyInfo) };
});

for (const algorithm of ['p256', 'p384', 'rsa2048', 'ed25519'] as KeyAlgorithm[]) {
  test(`property: a ${algorithm} issuer's TBSCertificate is what asn1-schema encodes from the same values`, async (t) => {
    const signer = await SigningKey.of(new MemoryKeyHandle(algorithm, `${algorithm} issuer`));
    const issuer = new X509Certificate((await createRoot(signer, { subject: `O=template test, CN=${algorithm} issuer` }, { now: new Date() })).rawData);
    const fixed = nodeFixedExtensions(signer.spki, { crl: 'http://ca.example/crl', caIssuers: 'http://ca.example/ca.crt' });
    const template = new CertificateTemplate(signer, issuer, fixed);
    const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    const moment = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
    const serial = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Uint8Array.of((b[0]! % 0x7f) + 1, ...b.subarray(1)));
    await fc.assert(
      fc.asyncProperty(
        attributes,
        fc.array(identifier, { maxLength: 4 }),
        moment,
        moment,
        serial,
        fc.constantFrom(...subjectKeys),
        async (attrs, dnsNames, notBefore, notAfter, serialBytes, key) => {
          const fields = {
            subject: distinguishedNameDer(attrs),
            spki: key.spki,
            subjectPublicKey: new Uint8Array(key.decoded.subjectPublicKey),
            notBefore,
            notAfter,
            dnsNames,
          };
          const reference = new asn.TBSCertificate({
            version: asn.Version.v3,
            serialNumber: serialBytes.slice().buffer,
            signature: new asn.AlgorithmIdentifier({
              algorithm: signatureAlgorithmOid(algorithm),
              ...(ALGORITHMS[algorithm].family === 'rsa' ? { parameters: null } : {}),
            }),
            issuer: AsnConvert.parse(issuer.subjectName.toArrayBuffer(), asn.Name),
            validity: new asn.Validity({ notBefore, notAfter }),
            subject: referenceName(attrs),
            subjectPublicKeyInfo: key.decoded,
            extensions: new asn.Extensions([
              ...fixed.map((e) => AsnConvert.parse(e.rawData, asn.Extension)),
              new asn.Extension({
                extnID: asn.id_ce_subjectAltName,
                critical: false,
                extnValue: new OctetString(AsnConvert.serialize(new asn.SubjectAlternativeName(dnsNames.map((dNSName) => new asn.GeneralName({ dNSName }))))),
              }),
              new asn.Extension({
                extnID: asn.id_ce_subjectKeyIdentifier,
                critical: false,
                extnValue: new OctetString(
                  AsnConvert.serialize(new asn.SubjectKeyIdentifier(createHash('sha1').update(new Uint8Array(key.decoded.subjectPublicKey)).digest())),
                ),
              }),
            ]),
          });
          t.deepEqual(template.tbs(serialBytes, fields), new Uint8Array(AsnConvert.serialize(reference)));
        },
      ),
      { numRuns: 200 },
    );
  });
}

test('an issued certificate parses, carries the serial it reports, and its signature verifies with the issuer key', async (t) => {
  const signer = await SigningKey.of(new MemoryKeyHandle('p256', 'issuer'));
  const issuer = new X509Certificate((await createRoot(signer, { subject: 'O=template test, CN=issuer' }, { now: new Date() })).rawData);
  const template = new CertificateTemplate(signer, issuer, nodeFixedExtensions(signer.spki));
  const key = subjectKeys[0]!;
  const { der, serial } = await template.issue({
    subject: distinguishedNameDer([[NAME_OIDS.commonName, 'node-1']]),
    spki: key.spki,
    subjectPublicKey: new Uint8Array(key.decoded.subjectPublicKey),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-04-01T00:00:00Z'),
    dnsNames: ['swarm-worker', 'node-1'],
  });
  const certificate = new X509Certificate(der);
  t.is(certificate.serialNumber, Buffer.from(serial).toString('hex'));
  t.is(certificate.subject, 'CN=node-1');
  t.true(await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true }));
});
