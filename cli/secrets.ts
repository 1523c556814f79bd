/** Secrets the CLI asks for: new PINs, PUKs and keys come from a file, the environment, or two matching prompts. */
import { keywardError } from '../src/errors.js';
import { obtainPin, readPinFile } from '../src/keystore/pin.js';
import { Secret } from '../src/secret.js';
import type { CliContext } from './context.js';
import { askNewSecret } from './terminal.js';

export async function newSecret(
  ctx: CliContext,
  what: string,
  source: { file?: string; flag: string; envVar: string },
  bounds: { min: number; max: number },
): Promise<Secret> {
  if (source.file) return readPinFile(source.file, ctx.interaction);
  const fromEnv = ctx.env[source.envVar];
  if (fromEnv) return Secret.fromString(fromEnv);
  const asked = await askNewSecret(ctx.interaction, what, bounds);
  if (asked) return asked;
  throw keywardError('SECRET_REQUIRED', `a new ${what} is needed and there is no terminal to ask for it`, {
    hint: `give it in a file (${source.flag} file:/path) or set ${source.envVar}`,
  });
}

/** An existing secret (PUK, SO PIN) from a file, the environment or one prompt. */
export async function existingSecret(ctx: CliContext, what: string, source: { file?: string; envVar: string }): Promise<Secret> {
  return obtainPin({ what, pinSource: source.file, envVar: source.envVar }, ctx.interaction, ctx.env);
}
