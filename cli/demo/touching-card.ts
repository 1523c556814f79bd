/**
 * The demo's developer YubiKey: a virtual one that touches itself after a moment, and a keystore
 * that reaches it, answers its PIN from the demo's random PIN, and narrates each touch it waits for.
 */
import { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';
import { nonInteractive } from '../../src/keystore/interaction.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { Secret } from '../../src/secret.js';
import type { Story } from './story.js';

export async function touchingCard(story: Story, userPin: Secret, touchAfterMs: number): Promise<{ card: VirtualYubiKey; keystore: Keystore }> {
  const card = await VirtualYubiKey.create({ firmware: '5.7.1' }, { touch: { kind: 'auto', delayMs: touchAfterMs } });
  const keystore = new Keystore({
    attachedCards: [{ reader: 'Keyward virtual YubiKey (in-process)', card }],
    interaction: {
      ...nonInteractive,
      warn: () => undefined,
      askSecret: async () => Secret.fromBytes(userPin.revealBytes()),
      notice: (message) => {
        story.note(`  ${message} (the card waits for the touch)`);
        return { clear: (outcome) => void (outcome && story.note(`  …${outcome}.`)) };
      },
    },
  });
  return { card, keystore };
}
