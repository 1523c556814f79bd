/** Small English for messages: "an ECDSA key" (never "a ECDSA"), "1 try" (never "1 tries"). */

/**
 * "a" or "an" as the phrase is said. Initialisms are said letter by letter, so those starting with
 * A, E, F, H, I, L, M, N, O, R, S or X take "an" (an ECDSA key, an RSA key, an HSM, an X25519 key)
 * and the rest "a" (a P-256 key, a PIN, a TDES key, a URI); other words go by their first letter
 * (an Ed25519 key, an object, a token).
 */
export function withArticle(phrase: string): string {
  const initialism = /^[A-Z](?:[A-Z]|[^A-Za-z])/.test(phrase);
  const vowelSound = initialism ? /^[AEFHILMNORSX]/.test(phrase) : /^[aeiou]/i.test(phrase);
  return `${vowelSound ? 'an' : 'a'} ${phrase}`;
}

/** "1 try", "2 tries", "0 tries". */
export function tries(count: number): string {
  return `${count} ${count === 1 ? 'try' : 'tries'}`;
}
