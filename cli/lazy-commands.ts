/**
 * Commands whose module is loaded only when commander dispatches to them. Their parent names them
 * with a description, which is all its `--help` lists; a command line loads the modules of the
 * commands it names and no others. cli/main.ts defines the nouns this way, and a noun with a module
 * per command (trust) its own commands; main.ts then configures each command once it is defined.
 */
import type { Command } from 'commander';

export interface LazyCommand {
  description: string;
  /** Loads the module whose function defines the command (arguments, options, subcommands, action) on the command given. */
  define: () => Promise<(command: Command) => void>;
}

const pending = new WeakMap<Command, LazyCommand['define']>();

/** Names `commands` under `parent`; each is defined by defineLazyCommand when it is needed. */
export function addLazyCommands(parent: Command, commands: Record<string, LazyCommand>): void {
  for (const [name, { description, define }] of Object.entries(commands)) pending.set(parent.command(name).description(description), define);
}

/** Defines `command` from its module if it was named by addLazyCommands and is not defined yet; true when it did. */
export async function defineLazyCommand(command: Command): Promise<boolean> {
  const define = pending.get(command);
  if (!define) return false;
  pending.delete(command);
  (await define())(command);
  return true;
}
