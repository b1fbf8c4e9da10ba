import { BufferPool } from './buffer-pool';

describe('BufferPool', () => {
  it('hands back a released buffer for the next request of the same size class', () => {
    const pool = new BufferPool(1 << 20, 1024, 0);
    const a = pool.acquire(1000);
    expect(a.length).toBe(1000);
    pool.release(a);
    const b = pool.acquire(900);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(900);
  });

  it('ignores buffers it did not hand out', () => {
    const pool = new BufferPool(1 << 20, 1024, 0);
    pool.release(Buffer.alloc(1024));
    expect(pool.retainedBytes).toBe(0);
  });

  it('keeps no more than its retention cap', () => {
    const pool = new BufferPool(2048, 1024, 0);
    const bufs = [pool.acquire(1024), pool.acquire(1024), pool.acquire(1024)];
    bufs.forEach((b) => pool.release(b));
    expect(pool.retainedBytes).toBe(2048);
  });
  it("hands out small sizes from Node's slab, and keeps none of them on its free lists", () => {
    const pool = new BufferPool(1 << 20, 64 * 1024, 4096);
    const small = pool.acquire(150);
    expect(small.length).toBe(150);
    expect(small.buffer.byteLength).toBeLessThan(64 * 1024); // not a 64 KiB class
    pool.release(small);
    expect(pool.retainedBytes).toBe(0);
    const large = pool.acquire(4097);
    expect(large.buffer.byteLength).toBe(64 * 1024);
    pool.release(large);
    expect(pool.retainedBytes).toBe(64 * 1024);
  });

  it("takes a shared buffer back at the last of its holders' releases, once", () => {
    const pool = new BufferPool(1 << 20, 1024, 0);
    const a = pool.acquire(1000);
    pool.share(a);
    pool.share(a.subarray(10, 20)); // a view counts for its buffer
    pool.release(a);
    pool.release(a);
    expect(pool.retainedBytes).toBe(0);
    pool.release(a.subarray(10, 20));
    expect(pool.retainedBytes).toBe(1024);
    expect(pool.acquire(1000).buffer).toBe(a.buffer);
    expect(pool.acquire(1000).buffer).not.toBe(a.buffer);
  });

  it('shares nothing it did not hand out', () => {
    const pool = new BufferPool(1 << 20, 1024, 4096);
    const small = pool.acquire(100);
    pool.share(small);
    pool.release(small);
    pool.release(small);
    expect(pool.retainedBytes).toBe(0);
  });
});
