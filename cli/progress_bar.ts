/**
 * The progress bar of a load on a terminal.
 *
 * @module
 */

/**
 * A progress bar on stderr, redrawn in place ten times a second:
 * `[#########-----------]  4500/10000  8123 calls/s  0 failed`.
 */
export class ProgressBar {
  readonly #total: number;
  readonly #encoder = new TextEncoder();
  #done = 0;
  #failed = 0;
  #begin = 0;
  #timer?: ReturnType<typeof setInterval>;

  /** A bar for `total` calls. */
  constructor(total: number) {
    this.#total = total;
  }

  /** Starts redrawing. */
  start(): void {
    this.#begin = performance.now();
    this.#timer = setInterval(() => this.#draw(), 100);
  }

  /** Records the calls completed and failed so far. */
  update(done: number, failed: number): void {
    this.#done = done;
    this.#failed = failed;
  }

  /** Stops redrawing and erases the bar. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#write("\r\x1b[2K");
  }

  #draw(): void {
    const width = 20;
    const filled = Math.floor((this.#done / this.#total) * width);
    const seconds = (performance.now() - this.#begin) / 1000;
    const rate = seconds > 0 ? Math.round(this.#done / seconds) : 0;
    const total = String(this.#total);
    this.#write(
      `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}]  ${
        String(this.#done).padStart(total.length)
      }/${total}  ${rate} calls/s  ${this.#failed} failed\x1b[K`,
    );
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    for (let written = 0; written < bytes.length;) {
      written += Deno.stderr.writeSync(bytes.subarray(written));
    }
  }
}
