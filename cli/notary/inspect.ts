/**
 * `keyward notary inspect`: what `docker trust inspect` shows, from verified metadata: each signed
 * tag with its digest and the roles that signed it, the signers (delegations) with their keys and
 * thresholds, and the administrative keys. Types only at the top: `--help` loads this file.
 */
import type { NotaryRepository } from '../../src/trust/notary/repository.js';
import { table } from '../context.js';

export interface Inspection {
  gun: string;
  tags: Array<{ tag: string; digest: string | null; size: number; signers: string[] }>;
  signers: Array<{ name: string; role: string; keys: Array<{ id: string; keyid: string }>; threshold: number; paths: string[]; published: boolean }>;
  administrativeKeys: Array<{
    role: string;
    keys: Array<{ id: string; keyid: string; keytype: string; uri: string | null; certificate?: { subject: string; expires: string } }>;
    threshold: number;
    expires: string | null;
    version: number | null;
  }>;
}

/** The inspection of a GUN (only `tag`, when given). */
export async function inspection(repo: NotaryRepository, tag?: string): Promise<Inspection> {
  const { bareKeyId } = await import('../../src/trust/notary/repository.js');
  const { certificateOf } = await import('../../src/trust/notary/dialect.js');
  const recorded = repo.recordedKeys();
  const tags = new Map<string, Inspection['tags'][number]>();
  for (const entry of repo.targets()) {
    if (tag !== undefined && entry.name !== tag) continue;
    const effective = repo.lookup(entry.name)!;
    const item = tags.get(entry.name) ?? {
      tag: entry.name,
      digest: effective.sha256 ? `sha256:${effective.sha256}` : null,
      size: effective.length,
      signers: [],
    };
    if (entry.sha256 === effective.sha256 && entry.length === effective.length) item.signers.push(entry.role);
    tags.set(entry.name, item);
  }
  const root = repo.root.signed;
  const roleVersion = (role: string) =>
    role === 'root'
      ? repo.root.signed
      : role === 'snapshot'
        ? repo.snapshot.signed
        : role === 'timestamp'
          ? repo.timestamp.signed
          : repo.published(role)?.signed;
  return {
    gun: repo.gun,
    tags: [...tags.values()].sort((a, b) => a.tag.localeCompare(b.tag)),
    signers: repo.delegations().map((d) => ({
      name: d.name.replace(/^targets\//, ''),
      role: d.name,
      keys: d.keyids.map((keyid) => ({ id: bareKeyId(d.keys[keyid]) ?? keyid, keyid })),
      threshold: d.threshold,
      paths: d.paths ?? [],
      published: d.published,
    })),
    administrativeKeys: (['root', 'targets', 'snapshot', 'timestamp'] as const).map((role) => {
      const signed = roleVersion(role);
      return {
        role,
        threshold: root.roles[role].threshold,
        version: signed?.version ?? null,
        expires: signed?.expires ?? null,
        keys: root.roles[role].keyids.map((keyid) => {
          const key = root.keys[keyid];
          const certificate = key && certificateOf(key);
          const id = bareKeyId(key) ?? keyid;
          return {
            id,
            keyid,
            keytype: key?.keytype ?? 'unknown',
            uri: (recorded[keyid] ?? recorded[id])?.text ?? null,
            ...(certificate
              ? { certificate: { subject: certificate.subject.replace(/\n/g, ', '), expires: new Date(certificate.validTo).toISOString() } }
              : {}),
          };
        }),
      };
    }),
  };
}

const short = (id: string) => id.slice(0, 12);

/** `inspect` for people. */
export function describeInspection(result: Inspection): string {
  const out = [`Signed tags of ${result.gun}`, ''];
  out.push(
    result.tags.length
      ? table([['TAG', 'DIGEST', 'SIZE', 'SIGNED BY'], ...result.tags.map((t) => [t.tag, t.digest ?? '(none)', String(t.size), t.signers.join(', ')])])
      : '  (no signed tags)',
  );
  out.push('', `Signers of ${result.gun}`, '');
  out.push(
    result.signers.length
      ? table([
          ['SIGNER', 'KEYS', 'THRESHOLD', 'PATHS'],
          ...result.signers.map((s) => [
            s.name,
            s.keys.map((k) => short(k.id)).join(', '),
            `${s.threshold} of ${s.keys.length}`,
            s.paths.map((p) => JSON.stringify(p)).join(' '),
          ]),
        ])
      : '  (no signers: tags are signed with the targets key)',
  );
  out.push('', `Administrative keys of ${result.gun}`, '');
  for (const role of result.administrativeKeys) {
    const keys = role.keys.map(
      (k) =>
        `${short(k.id)}${k.certificate ? ` (certificate ${k.certificate.subject}, until ${k.certificate.expires.slice(0, 10)})` : ''}${k.uri ? `  ${k.uri}` : role.role === 'timestamp' ? "  the server's" : ''}`,
    );
    out.push(`  ${role.role.padEnd(10)} ${keys.join('; ')}${role.expires ? `  v${role.version}, expires ${role.expires}` : ''}`);
  }
  return out.join('\n');
}
