/** The timestamp role (spec §4.7 "File formats: timestamp.json"): the current snapshot, re-signed often. */
import { malformed, parseMetadata, type Metadata, type ParseOptions, type Signed } from './metadata.js';
import { checkMetaFiles, type MetaFile } from './snapshot.js';

export const SNAPSHOT_FILE = 'snapshot.json';

export interface TimestampSigned extends Signed {
  _type: 'timestamp';
  meta: { 'snapshot.json': MetaFile } & Record<string, MetaFile>;
}

export function parseTimestamp(bytes: Uint8Array, options?: ParseOptions): Metadata<TimestampSigned> {
  return parseMetadata<TimestampSigned>(
    bytes,
    'timestamp',
    'timestamp',
    (signed, role) => {
      const meta = checkMetaFiles(signed.meta, role);
      if (!Object.hasOwn(meta, SNAPSHOT_FILE)) throw malformed(role, 'meta must describe snapshot.json');
    },
    options,
  );
}
