/** What a CA directory holds and has issued: roots, rotation, intermediate, and every certificate's state. */
import type * as x509 from '../../x509/peculiar.js';
import { CA_FILES, type CaDirectory } from '../store.js';

export interface CertificateStatus {
  serial: string;
  subject: string;
  profile: string;
  notAfter: string;
  renewAt: string;
  status: 'issued' | 'revoked' | 'expired';
  revocationReason?: string;
}

export interface CaStatus {
  dir: string;
  clusterId?: string;
  roots: Array<{ subject: string; notAfter: string; sha256: string }>;
  rotationInProgress: boolean;
  intermediate?: { subject: string; notAfter: string; key?: string };
  /** The self-signed cluster CA a swarm trusts (`keyward ca swarm-command`), with the fingerprint to record. */
  clusterCa?: { subject: string; notAfter: string; sha256: string };
  counts: { issued: number; revoked: number; expired: number };
  certificates: CertificateStatus[];
}

export async function caStatus(directory: CaDirectory): Promise<CaStatus> {
  const config = directory.config();
  const roots = directory.exists(CA_FILES.roots) ? directory.roots() : [];
  // A reading command: it creates no ledger where there is none, and writes nothing to one.
  const ledger = await directory.readOnlyLedger();
  try {
    const now = Date.now();
    const certificates: CertificateStatus[] = (ledger ? await ledger.list() : []).map((e) => ({
      serial: e.serial,
      subject: e.subject,
      profile: e.profile,
      notAfter: e.notAfter.toISOString(),
      renewAt: e.renewAt.toISOString(),
      status: e.status === 'revoked' ? 'revoked' : e.notAfter.getTime() < now ? 'expired' : 'issued',
      ...(e.revocationReason ? { revocationReason: e.revocationReason } : {}),
    }));
    const intermediate = directory.exists(CA_FILES.intermediate) ? directory.intermediate() : undefined;
    const clusterCa = directory.clusterCa();
    const described = async (c: x509.X509Certificate) => ({
      subject: c.subject,
      notAfter: c.notAfter.toISOString(),
      sha256: Buffer.from(await c.getThumbprint('SHA-256')).toString('hex'),
    });
    return {
      dir: directory.dir,
      ...(config.clusterId ? { clusterId: config.clusterId } : {}),
      roots: await Promise.all(roots.map(described)),
      rotationInProgress: directory.exists(CA_FILES.crossSigned),
      ...(intermediate
        ? { intermediate: { subject: intermediate.subject, notAfter: intermediate.notAfter.toISOString(), key: config.intermediateKey?.text } }
        : {}),
      ...(clusterCa ? { clusterCa: await described(clusterCa) } : {}),
      counts: {
        issued: certificates.filter((c) => c.status === 'issued').length,
        revoked: certificates.filter((c) => c.status === 'revoked').length,
        expired: certificates.filter((c) => c.status === 'expired').length,
      },
      certificates,
    };
  } finally {
    await ledger?.close();
  }
}
