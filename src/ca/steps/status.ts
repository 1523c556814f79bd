/** What a CA directory holds and has issued: roots, rotation, intermediate, and every certificate's state. */
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
  counts: { issued: number; revoked: number; expired: number };
  certificates: CertificateStatus[];
}

export async function caStatus(directory: CaDirectory): Promise<CaStatus> {
  const config = directory.config();
  const roots = directory.exists(CA_FILES.roots) ? directory.roots() : [];
  // A reading command: it creates no ledger where there is none, and writes nothing to one.
  const ledger = directory.readOnlyLedger();
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
    return {
      dir: directory.dir,
      ...(config.clusterId ? { clusterId: config.clusterId } : {}),
      roots: await Promise.all(
        roots.map(async (r) => ({ subject: r.subject, notAfter: r.notAfter.toISOString(), sha256: Buffer.from(await r.getThumbprint('SHA-256')).toString('hex') })),
      ),
      rotationInProgress: directory.exists(CA_FILES.crossSigned),
      ...(intermediate ? { intermediate: { subject: intermediate.subject, notAfter: intermediate.notAfter.toISOString(), key: config.intermediateKey?.text } } : {}),
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
