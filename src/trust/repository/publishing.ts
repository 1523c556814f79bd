/**
 * Publication: the staged roles, then a snapshot naming them, then a timestamp naming the snapshot,
 * each its own step, signed with the online keys the repository knows; nothing is handed to the
 * store until every signature is made. And the cron job's refresh: a new timestamp, and a new
 * snapshot when one is due.
 */
import { keywardError } from '../../errors.js';
import type { Keystore } from '../../keystore/keystore.js';
import { metadataFile } from '../file-names.js';
import { Metadata, SPEC_VERSION } from '../metadata.js';
import type { RootSigned } from '../root.js';
import { metaFileOf, type SnapshotSigned } from '../snapshot.js';
import { SNAPSHOT_FILE, type TimestampSigned } from '../timestamp.js';
import { checkUnexpired, requirements, stagedInOrder } from './requirements.js';
import { signerOf, signMetadata, type TufSigner } from '../signer.js';
import type { RepositoryState, StagedMetadata } from './state.js';

export interface PublishReport {
  published: Array<{ role: string; version: number }>;
  snapshot: number;
  timestamp: number;
}

type OnlineRole = 'snapshot' | 'timestamp';

/** Signers for an online role from the key URIs the repository knows. */
async function onlineSigners(state: RepositoryState, keystore: Keystore | undefined, role: OnlineRole, root: RootSigned): Promise<TufSigner[]> {
  const entry = root.roles[role];
  const uris = state.workspace.readConfig().keys;
  const signers: TufSigner[] = [];
  for (const keyid of entry.keyids) {
    if (signers.length >= entry.threshold) break;
    const uri = uris[keyid];
    if (!uri || !keystore) continue;
    const signer = await signerOf(await keystore.open(uri));
    if (signer.keyid !== keyid)
      throw keywardError('TUF_KEY_MOVED', `${uri.text} no longer holds ${role} key ${keyid}`, {
        hint: 'rotate the key (keyward trust repo rotate-key) or fix the URI',
      });
    signers.push(signer);
  }
  if (signers.length < entry.threshold) {
    throw keywardError('TUF_ONLINE_KEY', `cannot sign ${role}: ${signers.length} of the ${entry.threshold} keys it needs can be opened here`, {
      hint: `run this where the ${role} key${entry.threshold > 1 ? 's are' : ' is'} (a Keystore URI recorded at init or rotation), or publish from that machine with keyward trust repo refresh`,
    });
  }
  return signers;
}

export class Publisher {
  readonly #state: RepositoryState;
  readonly #keystore: Keystore | undefined;

  constructor(state: RepositoryState, keystore: Keystore | undefined) {
    this.#state = state;
    this.#keystore = keystore;
  }

  async #signOnline<T extends SnapshotSigned | TimestampSigned>(metadata: Metadata<T>, role: OnlineRole, root: RootSigned): Promise<Buffer> {
    for (const signer of await onlineSigners(this.#state, this.#keystore, role, root)) await signMetadata(metadata, signer);
    return metadata.toBytes();
  }

  /** Step 1: the staged roles, each checked ready and unexpired, as the files clients will fetch. */
  #stagedFiles(): Array<{ metadata: StagedMetadata; file: string; bytes: Buffer }> {
    return stagedInOrder(this.#state).map((metadata) => {
      checkUnexpired(this.#state, metadata);
      const unmet = requirements(this.#state, metadata.role, metadata).filter((r) => !r.met);
      if (unmet.length) {
        throw keywardError(
          'TUF_THRESHOLD_UNMET',
          `${metadata.role} v${metadata.signed.version} is not ready: ${unmet.map((r) => `${r.by} needs ${r.threshold}, has ${r.signed.length}`).join('; ')}`,
          { hint: 'sign it with the missing keys (keyward trust repo status shows which) and publish again' },
        );
      }
      return { metadata, file: metadataFile(metadata.role, metadata.signed.version), bytes: metadata.toBytes() };
    });
  }

  /** Step 2: a snapshot naming every targets role at its newest version, the staged ones included. */
  async #snapshot(root: RootSigned, staged: Array<{ metadata: StagedMetadata; bytes: Buffer }>): Promise<{ bytes: Buffer; version: number }> {
    const previous = this.#state.publishedSnapshot();
    const snapshot = new Metadata<SnapshotSigned>('snapshot', {
      signed: {
        _type: 'snapshot',
        spec_version: SPEC_VERSION,
        version: (previous?.signed.version ?? 0) + 1,
        expires: this.#state.expiry('snapshot'),
        meta: { ...previous?.signed.meta },
      },
      signatures: [],
    });
    for (const { metadata, bytes } of staged) {
      if (metadata.role !== 'root') snapshot.signed.meta[`${metadata.role}.json`] = metaFileOf(bytes, metadata.signed.version, false);
    }
    return { bytes: await this.#signOnline(snapshot, 'snapshot', root), version: snapshot.signed.version };
  }

  /** The same snapshot, re-signed with a new version and expiry (refresh, when it is due). */
  async #resignedSnapshot(root: RootSigned): Promise<{ bytes: Buffer; version: number }> {
    const previous = this.#publishedSnapshot();
    const snapshot = new Metadata<SnapshotSigned>('snapshot', {
      signed: { ...previous.signed, version: previous.signed.version + 1, expires: this.#state.expiry('snapshot') },
      signatures: [],
    });
    return { bytes: await this.#signOnline(snapshot, 'snapshot', root), version: snapshot.signed.version };
  }

  /** Step 3: a timestamp naming the snapshot by version, length and hash. */
  async #timestamp(root: RootSigned, snapshot: { bytes: Buffer; version: number }): Promise<{ bytes: Buffer; version: number }> {
    const version = (this.#state.publishedTimestamp()?.signed.version ?? 0) + 1;
    const timestamp = new Metadata<TimestampSigned>('timestamp', {
      signed: {
        _type: 'timestamp',
        spec_version: SPEC_VERSION,
        version,
        expires: this.#state.expiry('timestamp'),
        meta: { [SNAPSHOT_FILE]: metaFileOf(snapshot.bytes, snapshot.version, true) },
      },
      signatures: [],
    });
    return { bytes: await this.#signOnline(timestamp, 'timestamp', root), version };
  }

  #publishedSnapshot(): Metadata<SnapshotSigned> {
    const previous = this.#state.publishedSnapshot();
    if (!previous)
      throw keywardError('TUF_METADATA_MISSING', `${this.#state.workspace.dir} has never been published`, {
        hint: 'finish signing root and targets (keyward trust repo status)',
      });
    return previous;
  }

  /**
   * Publishes the staged changes, all or nothing: refuses while any threshold is unmet; signs a new
   * snapshot and timestamp; then hands the store root, targets roles, snapshot and timestamp, in
   * the order clients walk them (the timestamp last makes the rest visible), and unstages them.
   */
  async publish(): Promise<PublishReport> {
    const staged = this.#stagedFiles();
    const root = this.#state.root().signed;
    const snapshot = await this.#snapshot(root, staged);
    const timestamp = await this.#timestamp(root, snapshot);
    await this.#state.sources.store.publish([
      ...staged.map(({ file, bytes }) => [file, bytes] as const),
      [metadataFile('snapshot', snapshot.version), snapshot.bytes],
      ['timestamp.json', timestamp.bytes],
    ]);
    for (const { metadata } of staged) this.#state.workspace.removeStaged(metadata.role);
    return {
      published: staged.map(({ metadata }) => ({ role: metadata.role, version: metadata.signed.version })),
      snapshot: snapshot.version,
      timestamp: timestamp.version,
    };
  }

  /**
   * What a cron job runs: a new timestamp, and a new snapshot when asked or when the current one is
   * past half its life.
   */
  async refresh(options: { snapshot?: boolean } = {}): Promise<PublishReport> {
    const root = this.#state.publishedRoot().signed;
    const previous = this.#publishedSnapshot();
    const halfLife = (this.#state.workspace.readConfig().expiry.snapshot * 86_400_000) / 2;
    const due = options.snapshot || Date.parse(previous.signed.expires) - this.#state.now().getTime() < halfLife;
    const snapshot = due
      ? await this.#resignedSnapshot(root)
      : { bytes: this.#state.sources.store.readMetadata(metadataFile('snapshot', previous.signed.version))!, version: previous.signed.version };
    const timestamp = await this.#timestamp(root, snapshot);
    await this.#state.sources.store.publish([
      ...(due ? [[metadataFile('snapshot', snapshot.version), snapshot.bytes] as const] : []),
      ['timestamp.json', timestamp.bytes],
    ]);
    return { published: [], snapshot: snapshot.version, timestamp: timestamp.version };
  }
}
