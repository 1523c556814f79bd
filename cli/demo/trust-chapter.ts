/**
 * Demo, chapter: a TUF repository signed in hardware. Root, targets, snapshot and timestamp keys in
 * the SoftHSM token; a developer's delegation key on a (virtual) YubiKey; a release touch-signed
 * and published; a fresh client verifying it over HTTP, and refusing it once a byte changes.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../src/secret.js';
import { initClient, Updater } from '../../src/trust/client/updater.js';
import { TrustError } from '../../src/trust/errors.js';
import { Repository } from '../../src/trust/repository/repository.js';
import { signerOf } from '../../src/trust/signer.js';
import { targetFileOf } from '../../src/trust/targets.js';
import { serveDirectory } from '../../src/testing/static-server.js';
import type { Story } from './story.js';
import { touchingCard } from './touching-card.js';

const RELEASE = Buffer.from('keyward-demo 1.0: the release a developer signs with one touch\n');
const TOUCH_AFTER_MS = 800;

export async function trustChapter(story: Story, userPin: Secret): Promise<void> {
  story.chapter(
    'Shipping with TUF: a repository signed in hardware',
    "Root, targets, snapshot and timestamp keys in the SoftHSM token; a developer's key on a YubiKey that touches itself after 0.8 s.",
  );
  const { card, keystore } = await touchingCard(story, userPin, TOUCH_AFTER_MS);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-demo-tuf-'));
  try {
    const key = async (name: string, algorithm: 'p384' | 'ed25519') =>
      signerOf(await keystore.generate(`pkcs11:token=keyward-demo;object=tuf-${name}`, { algorithm }));
    const keys = {
      root: await key('root', 'p384'),
      targets: await key('targets', 'ed25519'),
      snapshot: await key('snapshot', 'ed25519'),
      timestamp: await key('timestamp', 'ed25519'),
    };
    const setup = (s: typeof keys.root) => ({ keys: [{ key: s.key, signer: s }], threshold: 1 });
    const repo = await Repository.init(
      join(dir, 'repo'),
      { root: setup(keys.root), targets: setup(keys.targets), snapshot: setup(keys.snapshot), timestamp: setup(keys.timestamp) },
      { keystore },
    );
    story.step(
      !repo.hasStagedChanges(),
      'repository created and published: root (P-384), targets, snapshot, timestamp (Ed25519), each signed in the token',
      repo.dir,
    );

    const developer = await signerOf(
      await keystore.generate(`yubikey:serial=${card.serial};slot=9c`, { algorithm: 'p256', pinPolicy: 'never', touchPolicy: 'always' }),
    );
    await repo.change({
      edit: (edits) => edits.delegate('targets', { name: 'releases', keys: [developer.key], threshold: 1, paths: ['releases/*'], terminating: true }),
      signers: [keys.targets],
      publish: false,
    });
    // The new role is staged empty beside the delegation: both are published once the developer signs.
    story.step(true, `"releases/*" delegated to the developer's YubiKey key (slot 9c, touch always), signed by targets`, `key id ${developer.keyid}`);

    const path = 'releases/keyward-demo-1.0.tar.gz';
    const target = targetFileOf(RELEASE);
    const { signed, published: report } = await repo.change({ edit: (edits) => edits.addTarget(path, target, { bytes: RELEASE }), signers: [developer] });
    if (!report) throw new Error('unreachable: every threshold is met and the online keys are in the token');
    story.step(
      signed.length === 1 && signed[0]!.role === 'releases',
      `the developer touch-signed ${path}; published ${report.published.map((p) => `${p.role} v${p.version}`).join(', ')}, snapshot v${report.snapshot}, timestamp v${report.timestamp}`,
    );

    const site = await serveDirectory(repo.publicDir);
    try {
      const initialRoot = readFileSync(join(repo.publicDir, 'metadata', '1.root.json'));
      const fresh = () => {
        const metadataDir = mkdtempSync(join(dir, 'client-'));
        initClient(metadataDir, initialRoot);
        return new Updater({ metadataDir, metadataUrl: `${site.url}/metadata`, targetBaseUrl: `${site.url}/targets` });
      };
      const { file, target: found } = await fresh().downloadTarget(path, join(dir, 'downloads'));
      const bytes = readFileSync(file);
      story.step(
        bytes.equals(RELEASE) && found.role === 'releases',
        `a fresh client (trusting only root v1) verified timestamp → snapshot → targets → releases over HTTP and downloaded the release`,
        `sha256 ${createHash('sha256').update(bytes).digest('hex')}, signed by the "${found.role}" role`,
      );
      // An attacker with write access to the web server changes one byte of the delegated metadata.
      const releasesFile = join(repo.publicDir, 'metadata', '1.releases.json');
      const original = readFileSync(releasesFile);
      writeFileSync(releasesFile, original.toString().replace(`"length":${RELEASE.length}`, `"length":${RELEASE.length + 1}`));
      let refusal = '';
      try {
        await fresh().downloadTarget(path, join(dir, 'downloads-2'));
      } catch (error) {
        if (error instanceof TrustError) refusal = error.message;
        else throw error;
      }
      story.step(refusal !== '', 'the same repository with one byte changed in releases metadata: refused', refusal);
    } finally {
      await site.close();
    }
  } finally {
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
