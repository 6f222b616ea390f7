/**
 * Stop-string handling for streamed text: text that might be the start of a stop string is held back until it is
 * known not to be one, so a client never receives part of a stop sequence.
 */
export class StopStringMatcher {
  private text = '';
  private emitted = 0;

  constructor(private readonly stops: readonly string[]) {}

  /** Adds decoded text; returns what may be emitted now and whether a stop string was reached. */
  push(delta: string): { emit: string; stopped: boolean } {
    this.text += delta;
    if (this.stops.length === 0) return this.take(this.text.length, false);
    let cut = -1;
    for (const stop of this.stops) {
      // Search from slightly before what was emitted: a stop string can straddle the boundary.
      const index = this.text.indexOf(stop, Math.max(0, this.emitted - stop.length + 1));
      if (index !== -1 && (cut === -1 || index < cut)) cut = index;
    }
    if (cut !== -1) return this.take(cut, true);
    return this.take(this.text.length - this.heldBack(), false);
  }

  /** The final text, stop string excluded. */
  get final(): string {
    return this.text.slice(0, this.emitted);
  }

  /** Releases held-back text at the end of generation. */
  flush(): string {
    return this.take(this.text.length, false).emit;
  }

  private heldBack(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, this.text.length - this.emitted); length > longest; length -= 1) {
        if (this.text.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }

  private take(end: number, stopped: boolean): { emit: string; stopped: boolean } {
    const emit = end > this.emitted ? this.text.slice(this.emitted, end) : '';
    this.emitted = Math.max(this.emitted, end);
    if (stopped) this.text = this.text.slice(0, end);
    return { emit, stopped };
  }
}
