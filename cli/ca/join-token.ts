/** `keyward ca join-token …`: Swarm join tokens that pin this CA's root bundle. */
import type { Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { readCertificates, readInput } from '../io.js';
import { dirOption } from './shared.js';

/** `keyward ca join-token …`. */
export function defineJoinToken(ca: Command): void {
  const joinToken = ca.command('join-token').description('Swarm join tokens: SWMTKN-1-<root digest>-<secret>');
  joinToken
    .command('create')
    .description("a join token that pins this CA's root bundle (print it only where it is needed)")
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca join-token create --dir ca/']))
    .action(async (options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createJoinToken } = await import('../../src/ca/join-token.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const token = createJoinToken(new CaDirectory(options.dir).rootBundle());
      ctx.emit({ token }, () => token);
    });
  joinToken
    .command('verify')
    .description('check that a join token pins a root bundle')
    .argument('<token>', 'the token')
    .option('--roots <file>', "the root bundle (default: the CA directory's roots.pem)")
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca join-token verify SWMTKN-1-… --roots roots.pem']))
    .action(async (token: string, options: { roots?: string; dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { verifyJoinToken } = await import('../../src/ca/join-token.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      // The digest is of the bundle's bytes as they are; that they are certificates is checked first.
      const bundle = options.roots
        ? (await readCertificates(options.roots, '--roots'), readInput(options.roots, '--roots'))
        : new CaDirectory(options.dir).rootBundle();
      verifyJoinToken(token, bundle);
      ctx.emit({ valid: true }, () => 'the token pins this root bundle');
    });
}
