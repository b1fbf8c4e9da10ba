/**
 * Reusable byte buffers for request bodies and batches. Without it every 5000-line write leaves a
 * few MB of garbage outside the V8 heap, and RSS runs tens of MB ahead of what is live before a GC.
 * Sizes are rounded up to powers of two; only buffers that came from the pool go back into it.
 * A small body (a one-point write) is a slice of Node's shared 8 KiB slab instead: a pool class of at
 * least `minBytes` would hold 64 KiB for 150 bytes, and once more of them are held than the free
 * lists keep (a batch gathering thousands of small writes), each acquire zero-filled a new one.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly owned = new WeakSet<ArrayBuffer>();
  /** Releases a shared buffer still waits for before it goes back (see share()). */
  private readonly otherHolders = new Map<ArrayBuffer, number>();
  private retained = 0;

  constructor(
    /** Most bytes kept on free lists; beyond it released buffers are left to the GC. */
    private readonly maxRetainedBytes = 32 * 1024 * 1024,
    private readonly minBytes = 64 * 1024,
    /** Sizes up to this come from Buffer.allocUnsafe (Node's slab), not the free lists. */
    private readonly smallBytes = 4096,
  ) {}

  /** A Buffer of exactly `size` bytes (contents undefined); give it back with release() when done. */
  acquire(size: number): Buffer {
    if (size <= this.smallBytes) return Buffer.allocUnsafe(size);
    const capacity = this.classOf(size);
    const list = this.free.get(capacity);
    let ab = list?.pop();
    if (ab) {
      this.retained -= capacity;
    } else {
      ab = new ArrayBuffer(capacity);
      this.owned.add(ab);
    }
    return Buffer.from(ab, 0, size);
  }

  /**
   * One more holder of `buf` (from acquire(), or a view of one): it goes back to the free list at
   * the last of its releases, one per holder. The replicas of a group send the same bytes from one
   * buffer instead of a copy each. Holders must only read it.
   */
  share(buf: Buffer): Buffer {
    const ab = buf.buffer as ArrayBuffer;
    if (this.owned.has(ab)) this.otherHolders.set(ab, (this.otherHolders.get(ab) ?? 0) + 1);
    return buf;
  }

  /** Returns a buffer from acquire() (or a view of one). Each acquired buffer must be released once, after its last use. */
  release(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.owned.has(ab)) return;
    const others = this.otherHolders.get(ab);
    if (others !== undefined) {
      if (others > 1) this.otherHolders.set(ab, others - 1);
      else this.otherHolders.delete(ab);
      return;
    }
    if (this.retained + ab.byteLength > this.maxRetainedBytes) return;
    let list = this.free.get(ab.byteLength);
    if (!list) this.free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.retained += ab.byteLength;
  }

  get retainedBytes(): number {
    return this.retained;
  }

  private classOf(size: number): number {
    let c = this.minBytes;
    while (c < size) c *= 2;
    return c;
  }
}
