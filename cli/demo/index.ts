/**
 * `keyward demo`: the whole story, end to end, on throw-away devices: nothing to configure, nothing
 * left behind. Each issue adds a chapter.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import { nonInteractive, type Interaction } from '../../src/keystore/interaction.js';
import { Secret } from '../../src/secret.js';
import { CliContext } from '../context.js';
import { Story } from './story.js';

/** The demo answers its own PIN prompts: the PINs are random and never leave memory. */
function demoInteraction(userPin: Secret): Interaction {
  return { ...nonInteractive, askSecret: async () => Secret.fromBytes(userPin.revealBytes()) };
}

/** `keyward demo`. */
export function defineDemo(demo: Command): void {
  demo
    .addHelpText('after', '\nExamples:\n  keyward demo\n  keyward demo --json | jq ".steps[] | select(.ok | not)"\n')
    .action(async (_options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createSoftHsmStore, useSoftHsmStore } = await import('../../src/hsm/pkcs11/softhsm.js');
      const { Keystore } = await import('../../src/keystore/keystore.js');
      const { keystoreChapter } = await import('./keystore-chapter.js');
      const { yubikeyChapter } = await import('./yubikey-chapter.js');
      const { caChapter } = await import('./ca-chapter.js');
      const { trustChapter } = await import('./trust-chapter.js');
      const { imageChapter } = await import('./image-chapter.js');
      const started = performance.now();
      const store = useSoftHsmStore(createSoftHsmStore('keyward-demo-'));
      const pins = { so: Secret.fromString(randomBytes(12).toString('base64url')), user: Secret.fromString(randomBytes(12).toString('base64url')) };
      const keystore = new Keystore({ interaction: demoInteraction(pins.user) });
      const story = new Story(ctx.json);
      story.title('Keyward demo: keys that never leave hardware');
      try {
        await keystoreChapter(story, keystore, pins, store.dir);
        await yubikeyChapter(story);
        await caChapter(story, keystore, pins);
        await trustChapter(story, pins.user);
        await imageChapter(story, pins.user);
      } finally {
        await keystore.close();
        pins.so.dispose();
        pins.user.dispose();
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      story.finish(`Done in ${seconds} s; the throw-away tokens, the virtual YubiKeys, the CA, the registry and their keys are erased on exit.`);
      if (ctx.json) ctx.emit({ ok: story.failed.length === 0, seconds: Number(seconds), steps: story.results }, () => '');
      if (story.failed.length) {
        throw keywardError('DEMO_FAILED', `${story.failed.length} demo step(s) failed: ${story.failed.map((f) => f.step).join('; ')}`);
      }
    });
}
