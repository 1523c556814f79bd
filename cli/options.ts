/** Option values every noun parses the same way. */
import { keywardError } from '../src/errors.js';

/** A whole-number option (days, years, counts, thresholds, tries), refused with the flag's name when it is not one. */
export function wholeNumber(value: string, flag: string, range: { min?: number; max?: number } = {}): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw keywardError('OPTION_INVALID', `${flag} wants a whole number, got "${value}"`);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  if (n < min || n > max) throw keywardError('OPTION_INVALID', `${flag} wants a whole number from ${min} to ${max}, got ${n}`);
  return n;
}

/** A repeatable option's values, in the order given (commander's argParser for `--key a --key b`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
