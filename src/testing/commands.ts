/** What demos and tests ask of the machine before they start a real part: is a tool installed. */
import { spawnSync } from 'node:child_process';

/** Whether `command` is on PATH (as the shell would find it). */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
