/**
 * `keyward trust …`: TUF 1.0 repositories signed in hardware (`repo`), a conformant client (`client`),
 * and touch-to-sign for developers (`sign`). Only commander loads here: each action imports what it
 * needs when it runs, so `keyward trust sign` reaches the card quickly.
 */
import type { Command } from 'commander';
import { examples } from '../help.js';
import { defineClient } from './client.js';
import { defineRepo } from './repo.js';
import { defineSign } from './sign.js';

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
  defineSign(trust);
  defineRepo(trust);
  defineClient(trust);
}
