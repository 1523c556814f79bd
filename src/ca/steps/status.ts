/** What a CA directory holds and has issued: roots, rotation, intermediate, and every certificate's state. */
import type * as x509 from '../../x509/peculiar.js';
import { CA_FILES, type CaDirectory } from '../store.js';
import { stepTime, type StepRun } from './record.js';

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
  /**
   * Every intermediate a root of this directory signed, from the ledger: on the offline machine
   * after a split ceremony, the intermediates that went back online.
   */
  intermediatesSigned: CertificateStatus[];
  /** The self-signed cluster CA a swarm trusts (`keyward ca swarm-command`), with the fingerprint to record. */
  clusterCa?: { subject: string; notAfter: string; sha256: string };
  counts: { issued: number; revoked: number; expired: number };
  certificates: CertificateStatus[];
}

/** The directory's state at the run's time (what has expired by then). */
export async function caStatus(directory: CaDirectory, run: StepRun = {}): Promise<CaStatus> {
  const config = directory.config();
  const roots = directory.exists(CA_FILES.roots) ? directory.roots() : [];
  // A reading command: it creates no ledger where there is none, and writes nothing to one.
  const ledger = await directory.readOnlyLedger();
  try {
    const now = stepTime(run).getTime();
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
      intermediatesSigned: certificates.filter((c) => c.profile === 'intermediate'),
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
