/**
 * `keyward trust …`: TUF 1.0 repositories signed in hardware (`repo`), a conformant client (`client`),
 * and touch-to-sign for developers (`sign`). Each command's module loads when commander dispatches
 * to it (cli/lazy-commands.ts), and its action imports what it needs when it runs: `keyward trust
 * client` loads nothing of the writer, and `keyward trust sign` reaches the card quickly.
 */
import type { Command } from 'commander';
import { examples } from '../help.js';
import { addLazyCommands } from '../lazy-commands.js';

/** `keyward trust`'s commands. */
export function defineTrust(trust: Command): void {
  trust.addHelpText(
    'after',
    examples([
      'keyward trust repo init ./repo --root-key … --targets-key … --snapshot-key … --timestamp-key …',
      'keyward trust sign ./repo releases/app-1.2.tar.gz --file dist/app-1.2.tar.gz',
      'keyward trust client --metadata-dir ~/.tuf --metadata-url https://tuf.example/metadata refresh',
    ]),
  );
  addLazyCommands(trust, {
    sign: {
      description: 'sign a release into a TUF repository with your delegation key (a YubiKey: one touch), and publish it',
      define: async () => (await import('./sign.js')).defineSign,
    },
    repo: {
      description: 'a TUF 1.0 repository: staged changes, threshold signing across devices and days, publication as static files',
      define: async () => (await import('./repo.js')).defineRepo,
    },
    client: {
      description:
        "a TUF 1.0 client: verifies a repository step by step (spec §5) and downloads targets; exits 0 or 1 (the TUF conformance suite's client protocol)",
      define: async () => (await import('./client.js')).defineClient,
    },
  });
}
