import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpoolOptions, type SpoolRecord } from './index';

function rec(i: number, bodyBytes = 200): SpoolRecord {
  return { rp: 'autogen', precision: 'ms', body: Buffer.alloc(bodyBytes, `m,i=${i} v=${i}\n`), lines: i };
}

/** Size on disk of rec(i, bodyBytes). */
const sizeOf = (bodyBytes = 200) => 25 + 'autogen'.length + 'ms'.length + bodyBytes;

async function segmentFiles(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

async function drainLines(spool: Spool): Promise<number[]> {
  const out: number[] = [];
  for (let r = await spool.peek(); r; r = await spool.peek()) {
    expect(r.body.equals(rec(r.lines, r.body.length).body)).toBe(true);
    out.push(r.lines);
    await spool.ack();
  }
  return out;
}

type CorruptInfo = { file: string; offset: number; droppedBytes: number };

describe('Spool recovery', () => {
  let dir: string;
  let reports: CorruptInfo[];
  const open: Spool[] = [];
  const openSpool = async (options: Partial<SpoolOptions> = {}) => {
    const spool = await Spool.open(dir, {
      name: 'b1',
      maxBytes: 1 << 30,
      onCorruptTail: (info) => reports.push(info),
      ...options,
    });
    open.push(spool);
    return spool;
  };
  /** A closed spool holding rec(0..n-1), all in its first segment. */
  const filled = async (n: number, options: Partial<SpoolOptions> = {}) => {
    const spool = await openSpool(options);
    for (let i = 0; i < n; i++) await spool.append(rec(i));
    await spool.close();
    return join(dir, (await segmentFiles(dir)).at(-1)!);
  };

  beforeEach(async () => {
    dir = join(await fsp.mkdtemp(join(tmpdir(), 'spool-recovery-')), 'b1');
    reports = [];
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await fsp.rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('truncates a torn tail (last record cut mid-way), reports it, keeps every whole record', async () => {
    const seg = await filled(5);
    const whole = 4 * sizeOf();
    await fsp.truncate(seg, whole + 100);

    let spool = await openSpool();
    expect(reports).toEqual([{ file: seg, offset: whole, droppedBytes: 100 }]);
    expect((await fsp.stat(seg)).size).toBe(whole);
    expect(spool.backlog).toMatchObject({ records: 4, bytes: whole });

    // appends afterwards work, and everything reads back after another reopen
    await spool.append(rec(10));
    await spool.append(rec(11));
    await spool.close();
    reports = [];
    spool = await openSpool();
    expect(reports).toEqual([]);
    expect(await drainLines(spool)).toEqual([0, 1, 2, 3, 10, 11]);
  });

  it('truncates a tail torn inside the header', async () => {
    const seg = await filled(3);
    await fsp.truncate(seg, 2 * sizeOf() + 4);
    const spool = await openSpool();
    expect(reports).toEqual([{ file: seg, offset: 2 * sizeOf(), droppedBytes: 4 }]);
    expect(await drainLines(spool)).toEqual([0, 1]);
  });

  it('catches a flipped byte inside the last record by its CRC and truncates it the same way', async () => {
    const seg = await filled(5);
    const buf = await fsp.readFile(seg);
    buf[4 * sizeOf() + 150] ^= 0x20;
    await fsp.writeFile(seg, buf);

    let spool = await openSpool();
    expect(reports).toEqual([{ file: seg, offset: 4 * sizeOf(), droppedBytes: sizeOf() }]);
    expect((await fsp.stat(seg)).size).toBe(4 * sizeOf());
    await spool.append(rec(7));
    await spool.close();
    spool = await openSpool();
    expect(await drainLines(spool)).toEqual([0, 1, 2, 3, 7]);
  });

  it('treats an absurd length (> 64 MiB) as corruption, without reading that much', async () => {
    const seg = await filled(3);
    const buf = await fsp.readFile(seg);
    buf.writeUInt32LE(0x7fffffff, 2 * sizeOf() + 2);
    await fsp.writeFile(seg, buf);
    const spool = await openSpool();
    expect(reports).toEqual([{ file: seg, offset: 2 * sizeOf(), droppedBytes: sizeOf() }]);
    expect(await drainLines(spool)).toEqual([0, 1]);
  });

  it('ends an older segment at a corrupt record in its middle: the rest is reported and skipped, later segments read', async () => {
    // 3 records a segment
    const options = { segmentBytes: 3 * sizeOf() };
    let spool = await openSpool(options);
    for (let i = 0; i < 9; i++) await spool.append(rec(i));
    await spool.close();
    const files = await segmentFiles(dir);
    expect(files).toHaveLength(3);
    const middle = join(dir, files[1]);
    const buf = await fsp.readFile(middle);
    buf[sizeOf() + 50] ^= 0xff; // record 4 of 0..8
    await fsp.writeFile(middle, buf);

    spool = await openSpool(options);
    expect(reports).toEqual([{ file: middle, offset: sizeOf(), droppedBytes: 2 * sizeOf() }]);
    expect((await fsp.stat(middle)).size).toBe(3 * sizeOf()); // skipped, not truncated
    expect(spool.backlog.records).toBe(7);
    expect(await drainLines(spool)).toEqual([0, 1, 2, 3, 6, 7, 8]);
  });

  it('survives a segment of pure garbage without looping or throwing', async () => {
    await filled(2);
    const junk = join(dir, '00000000000000000099.seg');
    await fsp.writeFile(junk, Buffer.alloc(5000, 0xab));
    const spool = await openSpool();
    expect(reports).toEqual([{ file: junk, offset: 0, droppedBytes: 5000 }]);
    expect(await drainLines(spool)).toEqual([0, 1]);
    await spool.append(rec(5));
    expect(await drainLines(spool)).toEqual([5]);
  });

  it('falls back to the oldest segment when `committed` is garbage: nothing lost, duplicates allowed', async () => {
    let spool = await openSpool();
    for (let i = 0; i < 6; i++) await spool.append(rec(i));
    for (let i = 0; i < 3; i++) {
      await spool.peek();
      await spool.ack();
    }
    await spool.close();
    await fsp.writeFile(join(dir, 'committed'), 'not a position at all');

    spool = await openSpool();
    expect(reports).toEqual([]);
    const lines = await drainLines(spool);
    expect(lines).toEqual(expect.arrayContaining([3, 4, 5]));
    expect(lines.slice(-3)).toEqual([3, 4, 5]);
  });

  it('falls back the same way on a torn (short) `committed` file and ignores a leftover temp file', async () => {
    let spool = await openSpool();
    for (let i = 0; i < 4; i++) await spool.append(rec(i));
    await spool.peek();
    await spool.ack();
    await spool.close();
    const good = await fsp.readFile(join(dir, 'committed'));
    await fsp.writeFile(join(dir, 'committed'), good.subarray(0, 10));
    await fsp.writeFile(join(dir, 'committed.tmp'), 'half');

    spool = await openSpool();
    expect(await drainLines(spool)).toEqual([0, 1, 2, 3]);
    expect(await fsp.readdir(dir)).not.toContain('committed.tmp');
  });

  it('finishes an interrupted deletion: a segment older than the committed one is delivered, not replayed', async () => {
    let spool = await openSpool({ segmentBytes: 2 * sizeOf() });
    for (let i = 0; i < 4; i++) await spool.append(rec(i));
    const [first] = await segmentFiles(dir);
    const saved = await fsp.readFile(join(dir, first));
    for (let i = 0; i < 2; i++) {
      await spool.peek();
      await spool.ack();
    }
    expect(await segmentFiles(dir)).not.toContain(first);
    await spool.close();
    // as if the process died between persisting `committed` and unlinking the segment
    await fsp.writeFile(join(dir, first), saved);

    spool = await openSpool({ segmentBytes: 2 * sizeOf() });
    expect(await segmentFiles(dir)).not.toContain(first);
    expect(spool.backlog.records).toBe(2);
    expect(await drainLines(spool)).toEqual([2, 3]);
  });

  it('skips the rest of a segment whose record went bad after open, reporting it', async () => {
    const spool = await openSpool({ segmentBytes: 3 * sizeOf() });
    for (let i = 0; i < 6; i++) await spool.append(rec(i));
    const files = await segmentFiles(dir);
    const first = join(dir, files[0]);
    const buf = await fsp.readFile(first);
    buf[sizeOf() + 60] ^= 0x01;
    await fsp.writeFile(first, buf);

    expect(await drainLines(spool)).toEqual([0, 3, 4, 5]);
    expect(reports).toEqual([{ file: first, offset: sizeOf(), droppedBytes: 2 * sizeOf() }]);
    expect(spool.backlog).toEqual({ records: 0, bytes: 0, oldestAt: null });
  });

  it('handles a bad record in the segment being appended to: rotates, skips, keeps appending', async () => {
    const spool = await openSpool();
    for (let i = 0; i < 3; i++) await spool.append(rec(i));
    const [seg] = await segmentFiles(dir);
    const buf = await fsp.readFile(join(dir, seg));
    buf[sizeOf() * 2 + 40] ^= 0x01;
    await fsp.writeFile(join(dir, seg), buf);

    expect(await drainLines(spool)).toEqual([0, 1]);
    expect(reports).toEqual([{ file: join(dir, seg), offset: 2 * sizeOf(), droppedBytes: sizeOf() }]);
    await spool.append(rec(8));
    expect(await drainLines(spool)).toEqual([8]);
    expect(await segmentFiles(dir)).not.toContain(seg);
  });
});
