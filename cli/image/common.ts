/**
 * What the `image` commands share: the registry options (CA, plain HTTP on loopback, credentials
 * with the password never on the command line) and the client made from them. Heavy modules load
 * inside these functions, when a command runs.
 */
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import type { ImageReference } from '../../src/image/reference.js';
import type { RegistryClient } from '../../src/image/registry.js';
import type { VerifierKey } from '../../src/image/keys.js';

export interface RegistryFlags {
  registryCa?: string;
  plainHttp?: boolean;
  username?: string;
  passwordFile?: string;
}

/** The options every command that talks to a registry takes. */
export function registryOptions(command: Command): Command {
  return command
    .option('--registry-ca <file>', "CA certificates (PEM) to trust for the registry's HTTPS, besides Node's bundled CAs")
    .addOption(new Option('--plain-http', 'plain HTTP, for a registry on this machine only (127.0.0.1, localhost, ::1)'))
    .option('--username <name>', 'the registry user (the password from --password-file, KEYWARD_REGISTRY_PASSWORD, or a prompt)')
    .option('--password-file <file>', 'a file holding the registry password on its first line (never the password itself on the command line)');
}

export const REGISTRY_HELP = `
Registries: HTTPS with Node's CA bundle and --registry-ca; --plain-http only for a registry on this
machine. Credentials are sent as the registry asks (a Bearer token from its token service, or
Basic): --username with --password-file FILE or KEYWARD_REGISTRY_PASSWORD, or asked at the terminal.
`;

/** The reference and a client for its registry. */
export async function openRegistry(ctx: CliContext, text: string, flags: RegistryFlags): Promise<{ reference: ImageReference; client: RegistryClient }> {
  const { parseImageReference } = await import('../../src/image/reference.js');
  const { RegistryClient } = await import('../../src/image/registry.js');
  const reference = parseImageReference(text);
  let ca: Uint8Array[] | undefined;
  if (flags.registryCa) {
    const { readCertificates } = await import('../io.js');
    ca = await readCertificates(flags.registryCa, '--registry-ca');
  }
  let password;
  if (flags.username !== undefined || flags.passwordFile !== undefined) {
    const { existingSecret } = await import('../secrets.js');
    password = await existingSecret(ctx, 'registry password', {
      file: flags.passwordFile === undefined ? undefined : `file:${flags.passwordFile}`,
      envVar: 'KEYWARD_REGISTRY_PASSWORD',
    });
  }
  const client = new RegistryClient({ registry: reference.registry, ca, plainHttp: flags.plainHttp, username: flags.username, password });
  return { reference, client };
}

/** Verification keys from files (`--key`): public keys, or certificate chains checked to their root. */
export async function verifierKeys(paths: string[]): Promise<VerifierKey[]> {
  const { parseInput } = await import('../io.js');
  const { readVerifierKey } = await import('../../src/image/keys.js');
  const keys: VerifierKey[] = [];
  for (const path of paths) keys.push(await parseInput(path, '--key', (data) => readVerifierKey(data)));
  return keys;
}
