import { StringDecoder } from 'node:string_decoder';

/**
 * Incremental Server-Sent Events parser: bytes in as they arrive, each event's `data` out as soon as its blank line
 * does. Multi-byte characters split across chunks are decoded correctly (a StringDecoder keeps a split character's bytes for the next chunk); `\r\n` and `\n`
 * both end lines; comments (`:` lines) and fields other than `data` are ignored, as the SSE spec says.
 */
export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private data: string | null = null;

  /** Bytes of a line that has not ended yet; a stream that never sends a newline is not SSE. */
  get bufferedChars(): number {
    return this.pending.length;
  }

  /** Feeds a chunk; calls onEvent with the data of every event it completes. */
  push(chunk: Uint8Array, onEvent: (data: string) => void): void {
    const text = this.pending + this.decoder.write(chunk);
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      this.line(text.slice(start, end), onEvent);
      start = newline + 1;
    }
    this.pending = start === 0 ? text : text.slice(start);
  }

  /** True when the stream stopped in the middle of an event (data without its terminating blank line). */
  get midEvent(): boolean {
    return this.data !== null || this.pending.length > 0;
  }

  private line(line: string, onEvent: (data: string) => void): void {
    if (line === '') {
      if (this.data !== null) onEvent(this.data);
      this.data = null;
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.data = this.data === null ? value : `${this.data}\n${value}`;
  }
}
