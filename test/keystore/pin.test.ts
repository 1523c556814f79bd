/** The PIN prompt names the device by what the device says of itself: that text cannot act on the terminal. */
import test from 'ava';
import { nonInteractive, type Interaction } from '../../src/keystore/interaction.js';
import { askPin } from '../../src/keystore/pin.js';
import { Secret } from '../../src/secret.js';

test("a device's own name in the PIN prompt is shown on one line, control characters escaped", async (t) => {
  const asked: string[] = [];
  const interaction: Interaction = { ...nonInteractive, askSecret: async (prompt) => (asked.push(prompt), Secret.fromString('123456')) };
  await askPin('PIN of token "evil\u001b[2J\nEnter the PIN of token "office""', interaction, 'no hint');
  t.deepEqual(asked, ['Enter the PIN of token "evil\\u001b[2J\\nEnter the PIN of token "office"":']);
});
