/**
 * The targets role and delegated targets roles (spec §4.6 "File formats: targets.json and delegated
 * target roles"): what each target is (length, hashes, custom data) and who else may say so.
 */
import { createHash } from 'node:crypto';
import { keywardError } from '../errors.js';
import { checkDelegations, type Delegations } from './delegations.js';
import {
  hashesProblem,
  integerProblem,
  isObject,
  malformed,
  object,
  parseMetadata,
  type Json,
  type Metadata,
  type ParseOptions,
  type Signed,
} from './metadata.js';

export interface TargetFile {
  length: number;
  hashes: Record<string, string>;
  custom?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface TargetsSigned extends Signed {
  _type: 'targets';
  targets: Record<string, TargetFile>;
  delegations?: Delegations;
}

/** What is wrong with one target entry, after its path (metadata.ts: integerProblem), or undefined. */
function targetProblem(target: unknown): string | undefined {
  if (!isObject(target)) return ' must be an object';
  const length = integerProblem(target.length, 0);
  if (length) return `.length${length}`;
  const hashes = hashesProblem(target.hashes);
  if (hashes) return `.hashes${hashes}`;
  return target.custom === undefined || isObject(target.custom) ? undefined : '.custom must be an object';
}

export function checkTargets(signed: Json, role: string): void {
  const targets = object(signed.targets, role, 'targets');
  for (const path in targets) {
    const problem = targetProblem(targets[path]);
    if (problem) throw malformed(role, `target "${path}"${problem}`);
  }
  if (signed.delegations !== undefined) checkDelegations(signed.delegations, role);
}

/** Parses top-level or delegated targets metadata; `role` names it in errors. */
export function parseTargets(bytes: Uint8Array, role = 'targets', options?: ParseOptions): Metadata<TargetsSigned> {
  return parseMetadata<TargetsSigned>(bytes, role, 'targets', checkTargets, options);
}

/** A target entry for a file's bytes. */
export function targetFileOf(bytes: Uint8Array, custom?: Record<string, unknown>): TargetFile {
  return targetFileFromDigest(createHash('sha256').update(bytes).digest('hex'), bytes.length, custom);
}

/** A target entry from a SHA-256 digest and a length (an image manifest named by its digest). */
export function targetFileFromDigest(sha256: string, length: number, custom?: Record<string, unknown>): TargetFile {
  return { length, hashes: { sha256 }, ...(custom ? { custom } : {}) };
}

/** Spec §4.6 TARGETPATH: relative, "/"-separated; and nothing that could leave targets/ on disk. */
export function checkTargetPath(path: string): void {
  if (path.length === 0 || path.split('/').some((part) => part === '..' || part === '.' || part === '') || path.includes('\\') || path.includes('\0')) {
    throw keywardError('TUF_TARGET_PATH', `target path "${path}" must be relative and "/"-separated, without empty, "." or ".." parts`);
  }
}
