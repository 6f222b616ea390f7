/** The typed view of a KV buffer: float32, or float16 as raw bits. */
export type KvData = Float32Array | Uint16Array;

/**
 * Memory behind the in-place KV buffers, kept for reuse instead of left to the garbage collector.
 *
 * A KV buffer is large (a batch's cache for one layer's keys), and fresh memory costs a page fault per 4 KiB on its
 * first touch: on the 2-core VM this project measures on, ~2.5 ms per MB, so a batch's cache moving to new memory
 * stalled every stream for 0.2-1 s. Memory handed back here (a state consumed by a relayout, a join or a release) has
 * been touched, and the next buffer is cut from it. `reserve` touches memory up front, before any request waits.
 *
 * Memory from here is not zeroed: positions beyond a row's length hold stale keys, which no path reads (right-padded
 * GroupQueryAttention reads each row's own length; a concatenating graph masks the empty slots), as with any KV
 * buffer that rows leave and join.
 */
export class KvMemory {
  private readonly free = new Set<ArrayBuffer>();

  /** `maxFree`: most buffers kept for reuse; past it the smallest go to the garbage collector, so memory stays bounded. */
  constructor(private readonly maxFree = Infinity) {}

  /** Bytes of buffers allocated because nothing free was large enough (not counting `reserve`). */
  freshBytes = 0;
  /** Bytes touched up front by `reserve`. */
  reservedBytes = 0;

  /**
   * A buffer of at least `needed` elements of `type`, cut from free memory where some fits: the smallest free buffer
   * that holds `wanted` (the room the caller would allocate), else the smallest that holds `needed`, else new memory of
   * `wanted` elements. Fitting `wanted` first keeps a batch that starts small out of the buffer reserved for a prompt
   * being prefilled, and such a prompt out of the batch's.
   */
  take(type: 'float32' | 'float16', needed: number, wanted = needed): KvData {
    const bytesPerElement = type === 'float16' ? 2 : 4;
    const wantedBytes = Math.max(needed, wanted) * bytesPerElement;
    const smallest = (bytes: number) => {
      let best: ArrayBuffer | null = null;
      for (const buffer of this.free)
        if (buffer.byteLength >= bytes && (!best || buffer.byteLength < best.byteLength)) best = buffer;
      return best;
    };
    let chosen = smallest(wantedBytes) ?? smallest(needed * bytesPerElement);
    if (chosen) this.free.delete(chosen);
    else {
      chosen = new ArrayBuffer(wantedBytes);
      this.freshBytes += wantedBytes;
    }
    return type === 'float16' ? new Uint16Array(chosen) : new Float32Array(chosen);
  }

  /** Hands back the whole memory behind `view`: nothing may use it afterwards. */
  give(view: KvData): void {
    this.free.add(view.buffer as ArrayBuffer);
    while (this.free.size > this.maxFree) {
      let smallest: ArrayBuffer | null = null;
      for (const buffer of this.free) if (!smallest || buffer.byteLength < smallest.byteLength) smallest = buffer;
      this.free.delete(smallest!);
    }
  }

  /** Allocates and touches one buffer per `count` of `bytes` each, so that later buffers are cut from warm memory. */
  reserve(bytes: number, count: number): void {
    for (let i = 0; i < count; i += 1) {
      const buffer = new ArrayBuffer(bytes);
      // A write per page faults it in now; reads alone would map the shared zero page.
      const pages = new Uint8Array(buffer);
      for (let offset = 0; offset < bytes; offset += 4096) pages[offset] = 0;
      this.free.add(buffer);
      this.reservedBytes += bytes;
    }
  }

  /** Bytes free for reuse. */
  get freeBytes(): number {
    let total = 0;
    for (const buffer of this.free) total += buffer.byteLength;
    return total;
  }
}
