/** Narration for `keyward demo`: chapters and checked steps for people, a list of results for --json. */

export interface StepResult {
  chapter: string;
  step: string;
  ok: boolean;
  detail?: string;
}

export class Story {
  readonly results: StepResult[] = [];
  readonly #quiet: boolean;
  #chapter = '';
  #count = 0;

  constructor(quiet: boolean) {
    this.#quiet = quiet;
  }

  #print(text: string): void {
    if (!this.#quiet) process.stdout.write(`${text}\n`);
  }

  title(text: string): void {
    this.#print(`\n${text}\n${'─'.repeat(text.length)}`);
  }

  chapter(title: string, intro?: string): void {
    this.#chapter = title;
    this.#count++;
    this.#print(`\n${this.#count}. ${title}`);
    if (intro) this.#print(`   ${intro}`);
  }

  /** A step that was checked: ✓ or ✗, with what was checked. */
  step(ok: boolean, text: string, detail?: string): void {
    this.results.push({ chapter: this.#chapter, step: text, ok, ...(detail ? { detail } : {}) });
    this.#print(`   ${ok ? '✓' : '✗'} ${text}${detail ? `\n       ${detail.split('\n').join('\n       ')}` : ''}`);
  }

  note(text: string): void {
    this.#print(`   ${text}`);
  }

  /** The closing line, after a blank one. */
  finish(text: string): void {
    this.#print(`\n${text}`);
  }

  get failed(): StepResult[] {
    return this.results.filter((r) => !r.ok);
  }
}
