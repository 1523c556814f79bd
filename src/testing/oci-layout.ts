/**
 * Test images made on the spot, without a network: an OCI image layout (one small gzip tar layer,
 * a config, a manifest, `index.json`, `oci-layout`) that `skopeo copy oci:DIR:TAG docker://…` pushes
 * to a registry. Different `content` makes a different image (and digest); `platforms` makes a
 * multi-platform index of one manifest per platform.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { systemSkopeo } from './sigstore-tools.js';

export interface TestImage {
  /** The layout directory: `oci:<dir>:<tag>` for skopeo. */
  dir: string;
  tag: string;
  /** The digest of what `index.json` points to: the manifest (or the index with `platforms`). */
  digest: string;
  mediaType: string;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A ustar archive of one regular file (POSIX.1-1988 header, then the data in 512-byte blocks, then two empty blocks). */
function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, `${content.length.toString(8).padStart(11, '0')}\0`);
  field(136, 12, '00000000000\0');
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

export function writeTestImage(dir: string, options: { content?: string; tag?: string; platforms?: string[] } = {}): TestImage {
  const tag = options.tag ?? 'latest';
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer) => {
    const hex = sha256(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const manifestFor = (platform: string) => {
    const [os, architecture] = platform.split('/') as [string, string];
    const tar = tarOf('hello.txt', Buffer.from(`${options.content ?? 'hello from keyward'} (${platform})\n`));
    const layer = blob(gzipSync(tar, { level: 9 }));
    const config = blob(Buffer.from(JSON.stringify({ architecture, os, config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] } })));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...blob(manifest), platform: { architecture, os } };
  };
  let top: { mediaType: string; digest: string; size: number };
  if (options.platforms) {
    const manifests = options.platforms.map(manifestFor);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...blob(index) };
  } else {
    const { mediaType, digest, size } = manifestFor('linux/amd64');
    top = { mediaType, digest, size };
  }
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return { dir, tag, digest: top.digest, mediaType: top.mediaType };
}

/**
 * Pushes a fresh image of `content` to `destination` (REGISTRY/REPOSITORY:TAG) with the system's
 * skopeo (`flags`: --dest-tls-verify=false, --dest-creds=…); returns its manifest's digest and size.
 */
export async function pushTestImage(dir: string, destination: string, content: string, flags: string[] = []): Promise<{ digest: string; size: number }> {
  const layout = join(dir, `layout-${randomBytes(6).toString('hex')}`);
  mkdirSync(layout);
  const image = writeTestImage(layout, { content });
  const policy = join(layout, 'accept.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const result = await systemSkopeo().run(['--policy', policy, 'copy', ...flags, `oci:${layout}:${image.tag}`, `docker://${destination}`]);
  if (result.code !== 0) throw new Error(`skopeo copy: ${result.stderr}`);
  return { digest: image.digest, size: statSync(join(layout, 'blobs', 'sha256', image.digest.slice('sha256:'.length))).size };
}
