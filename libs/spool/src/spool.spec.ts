import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, SpoolFullError, type SpoolOptions, type SpoolRecord } from './index';

const PRECISIONS = ['', 'n', 'ns', 'u', 'ms', 's', 'm', 'h'];

/** Bytes a record takes on disk: 10 header + 15 fixed metadata + rp + precision + body. */
function sizeOf(r: SpoolRecord): number {
  return 25 + Buffer.byteLength(r.rp) + Buffer.byteLength(r.precision) + r.body.length;
}

function rec(i: number, bodyBytes = 100): SpoolRecord {
  const body = Buffer.alloc(bodyBytes, `m,i=${i} v=${i}\n`);
  return { rp: `rp${i % 3}`, precision: PRECISIONS[i % PRECISIONS.length], body, lines: i };
}

function plain(r: SpoolRecord | null) {
  return r && { rp: r.rp, precision: r.precision, lines: r.lines, body: r.body.toString('hex') };
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

/** Peeks and acks everything, returning the records in order. */
async function drain(spool: Spool): Promise<SpoolRecord[]> {
  const out: SpoolRecord[] = [];
  for (let r = await spool.peek(); r; r = await spool.peek()) {
    out.push(r);
    await spool.ack();
  }
  return out;
}

describe('Spool', () => {
  let dir: string;
  const open: Spool[] = [];
  const openSpool = async (options: Partial<SpoolOptions> = {}) => {
    const spool = await Spool.open(dir, { name: 'b1', maxBytes: 1 << 30, ...options });
    open.push(spool);
    return spool;
  };

  beforeEach(async () => {
    dir = join(await fsp.mkdtemp(join(tmpdir(), 'spool-')), 'b1');
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(open.splice(0).map((s) => s.close()));
    await fsp.rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('creates its directory and starts empty', async () => {
    const spool = await openSpool();
    expect(spool.isEmpty).toBe(true);
    expect(spool.backlog).toEqual({ records: 0, bytes: 0, oldestAt: null });
    expect(await spool.peek()).toBeNull();
    expect(await segmentFiles(dir)).toEqual(['00000000000000000001.seg']);
  });

  it('round-trips every field: unicode and empty rp, every precision, binary and empty bodies', async () => {
    const spool = await openSpool();
    const records: SpoolRecord[] = [
      { rp: '', precision: '', body: Buffer.from('cpu v=1\n'), lines: 1 },
      { rp: 'rétention ☃ 保持 🚀', precision: 'ns', body: Buffer.from('m v=2 1\nm v=3 2\n'), lines: 2 },
      { rp: 'autogen', precision: 'ms', body: Buffer.alloc(0), lines: 0 },
      { rp: 'x'.repeat(65535), precision: 'h', body: Buffer.from(Array.from({ length: 256 }, (_, i) => i)), lines: 4294967295 },
      ...PRECISIONS.map((precision, i) => ({ rp: `rp_${precision}`, precision, body: Buffer.from(`p${i}`), lines: i })),
    ];
    for (const r of records) await spool.append(r);
    const back = await drain(spool);
    expect(back.map(plain)).toEqual(records.map(plain));
    for (const r of back) expect(Buffer.isBuffer(r.body)).toBe(true);
  });

  it('keeps order across segment rotation and never splits a record', async () => {
    const spool = await openSpool({ segmentBytes: 1000 });
    const records = Array.from({ length: 60 }, (_, i) => rec(i, 50 + ((i * 37) % 400)));
    for (const r of records) await spool.append(r);
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect((await fsp.stat(join(dir, f))).size).toBeLessThanOrEqual(1000);
    expect((await drain(spool)).map(plain)).toEqual(records.map(plain));
  });

  it('gives a record larger than segmentBytes a segment of its own', async () => {
    const spool = await openSpool({ segmentBytes: 100 });
    const records = [rec(1, 10), rec(2, 500), rec(3, 10)];
    for (const r of records) await spool.append(r);
    expect((await drain(spool)).map(plain)).toEqual(records.map(plain));
  });

  it('returns the same record from peek() until ack(), and refuses ack() without a peek', async () => {
    const spool = await openSpool();
    await expect(spool.ack()).rejects.toThrow(/without a record from peek/);
    await spool.append(rec(1));
    await spool.append(rec(2));
    const a = await spool.peek();
    expect(await spool.peek()).toBe(a);
    expect(plain(a)).toEqual(plain(rec(1)));
    await spool.ack();
    expect(plain(await spool.peek())).toEqual(plain(rec(2)));
    await spool.ack();
    expect(await spool.peek()).toBeNull();
    await expect(spool.ack()).rejects.toThrow();
  });

  it('ack() advances and deletes the segments wholly delivered', async () => {
    const spool = await openSpool({ segmentBytes: 300 });
    // 225-byte records: one per segment
    for (let i = 0; i < 4; i++) await spool.append(rec(i, 190));
    expect(await segmentFiles(dir)).toHaveLength(4);
    const [first, second] = await segmentFiles(dir);

    await spool.peek();
    expect(await segmentFiles(dir)).toContain(first);
    await spool.ack();
    expect(await segmentFiles(dir)).not.toContain(first);
    expect(await segmentFiles(dir)).toContain(second);
    expect(spool.backlog.records).toBe(3);

    await drain(spool);
    // only the segment appended to is left
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(spool.isEmpty).toBe(true);
  });

  it('gives the disk space of a drained spool back at once, and keeps working after it', async () => {
    const spool = await openSpool();
    for (let i = 0; i < 20; i++) await spool.append(rec(i, 10_000));
    const sizeOnDisk = async () => {
      let bytes = 0;
      for (const f of await segmentFiles(dir)) bytes += (await fsp.stat(join(dir, f))).size;
      return bytes;
    };
    expect(await sizeOnDisk()).toBeGreaterThan(200_000);
    await drain(spool);
    expect(await sizeOnDisk()).toBe(0);
    expect(await segmentFiles(dir)).toHaveLength(1);
    await spool.append(rec(99, 10));
    await spool.close();
    const again = await openSpool();
    expect((await drain(again)).map((r) => r.lines)).toEqual([99]);
  });

  it('resumes after a reopen from the committed position: acked records do not come back, un-acked do', async () => {
    const records = Array.from({ length: 10 }, (_, i) => rec(i));
    let spool = await openSpool({ segmentBytes: 400 });
    for (const r of records) await spool.append(r);
    for (let i = 0; i < 4; i++) {
      await spool.peek();
      await spool.ack();
    }
    // peeked but not acked: delivered again after the restart
    expect(plain(await spool.peek())).toEqual(plain(records[4]));
    await spool.close();

    spool = await openSpool({ segmentBytes: 400 });
    expect(spool.backlog.records).toBe(6);
    await spool.append(rec(10));
    expect((await drain(spool)).map(plain)).toEqual([...records.slice(4), rec(10)].map(plain));

    await spool.close();
    spool = await openSpool({ segmentBytes: 400 });
    expect(spool.isEmpty).toBe(true);
    expect(await spool.peek()).toBeNull();
  });

  it('keeps the backlog exact after appends, acks and a reopen', async () => {
    const now = jest.spyOn(Date, 'now');
    const records = [rec(1, 10), rec(2, 1000), { rp: 'é', precision: 'u', body: Buffer.alloc(7), lines: 3 }];
    const sizes = records.map(sizeOf);
    let spool = await openSpool({ segmentBytes: 1100 });

    now.mockReturnValue(1_000);
    await spool.append(records[0]);
    expect(spool.backlog).toEqual({ records: 1, bytes: sizes[0], oldestAt: 1_000 });
    now.mockReturnValue(2_000);
    await spool.append(records[1]);
    now.mockReturnValue(3_000);
    await spool.append(records[2]);
    expect(spool.backlog).toEqual({ records: 3, bytes: sizes[0] + sizes[1] + sizes[2], oldestAt: 1_000 });

    await spool.peek();
    await spool.ack();
    expect(spool.backlog).toEqual({ records: 2, bytes: sizes[1] + sizes[2], oldestAt: 2_000 });
    await spool.close();

    spool = await openSpool({ segmentBytes: 1100 });
    expect(spool.backlog).toEqual({ records: 2, bytes: sizes[1] + sizes[2], oldestAt: 2_000 });
    await spool.peek();
    await spool.ack();
    expect(spool.backlog).toEqual({ records: 1, bytes: sizes[2], oldestAt: 3_000 });
    await spool.peek();
    await spool.ack();
    expect(spool.backlog).toEqual({ records: 0, bytes: 0, oldestAt: null });
  });

  it('rejects with SpoolFullError, writing nothing, when the cap would be exceeded', async () => {
    const spool = await openSpool({ name: 'influx-b', maxBytes: sizeOf(rec(0)) + sizeOf(rec(1)) + sizeOf(rec(2)) });
    await spool.append(rec(0));
    await spool.append(rec(1));
    await spool.append(rec(2));
    const filesBefore = await segmentFiles(dir);
    const bytesBefore = (await fsp.stat(join(dir, filesBefore[0]))).size;

    const err = await spool.append(rec(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolFullError);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('spool full for backend influx-b');
    expect(await segmentFiles(dir)).toEqual(filesBefore);
    expect((await fsp.stat(join(dir, filesBefore[0]))).size).toBe(bytesBefore);
    expect(spool.backlog.records).toBe(3);

    // acking makes room again: rec(8) is exactly as large as rec(0)
    await spool.peek();
    await spool.ack();
    expect(sizeOf(rec(8))).toBe(sizeOf(rec(0)));
    await spool.append(rec(8));
    expect(spool.backlog.bytes).toBe(sizeOf(rec(0)) + sizeOf(rec(1)) + sizeOf(rec(2)));
    expect((await drain(spool)).map(plain)).toEqual([1, 2, 8].map((i) => plain(rec(i))));
  });

  it('counts appends still in flight against the cap', async () => {
    const size = sizeOf(rec(0));
    const spool = await openSpool({ maxBytes: 2 * size + 1 });
    const results = await Promise.allSettled([0, 1, 2].map((i) => spool.append(rec(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect(spool.backlog.records).toBe(2);
  });

  it('group-commits concurrent appends: 100 appends, order kept, one fsync', async () => {
    const spool = await openSpool();
    const probe: FileHandle = await fsp.open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const datasync = jest.spyOn(proto, 'datasync');
    const sync = jest.spyOn(proto, 'sync');

    const records = Array.from({ length: 100 }, (_, i) => rec(i, 1000));
    const resolved: number[] = [];
    await Promise.all(records.map((r, i) => spool.append(r).then(() => resolved.push(i))));

    expect(resolved).toEqual(records.map((_, i) => i));
    // one fdatasync for the whole group (a directory sync would be a `sync`: none, no rotation)
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(sync).not.toHaveBeenCalled();
    expect((await drain(spool)).map(plain)).toEqual(records.map(plain));

    // more records than one writev takes: still one fsync
    datasync.mockClear();
    const many = Array.from({ length: 300 }, (_, i) => rec(i, 10));
    await Promise.all(many.map((r) => spool.append(r)));
    expect(datasync).toHaveBeenCalledTimes(1);
    expect((await drain(spool)).map(plain)).toEqual(many.map(plain));
  });

  it('shares one fsync among appends made while another fsync runs', async () => {
    const spool = await openSpool();
    const probe = await fsp.open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    // hold the first fsync until the test lets it go
    const original = proto.datasync;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const firstSyncStarted = new Promise<void>((r) => (started = r));
    const datasync = jest.spyOn(proto, 'datasync').mockImplementation(async function (this: FileHandle) {
      if (datasync.mock.calls.length === 1) {
        started();
        await gate;
      }
      return original.call(this);
    });

    const order: number[] = [];
    const first = spool.append(rec(0)).then(() => order.push(0));
    await firstSyncStarted;
    const later = Array.from({ length: 20 }, (_, i) => spool.append(rec(i + 1)).then(() => order.push(i + 1)));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, ...later]);

    expect(order).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(datasync).toHaveBeenCalledTimes(2);
    expect((await drain(spool)).map((r) => r.lines)).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('rejects the appends of a group whose fsync fails, rolls the file back and carries on', async () => {
    const spool = await openSpool();
    await spool.append(rec(0));
    const [seg] = await segmentFiles(dir);
    const sizeBefore = (await fsp.stat(join(dir, seg))).size;
    const probe = await fsp.open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    jest.spyOn(proto, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));

    const results = await Promise.allSettled([spool.append(rec(1)), spool.append(rec(2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((await fsp.stat(join(dir, seg))).size).toBe(sizeBefore);
    expect(spool.backlog).toMatchObject({ records: 1, bytes: sizeOf(rec(0)) });
    expect(spool.isEmpty).toBe(false);

    await spool.append(rec(3));
    await spool.close();
    const again = await openSpool();
    expect((await drain(again)).map((r) => r.lines)).toEqual([0, 3]);
  });

  it('is not empty while an append is in flight (so callers keep per-backend order)', async () => {
    const spool = await openSpool();
    const p = spool.append(rec(1));
    expect(spool.isEmpty).toBe(false);
    expect(spool.backlog.records).toBe(0);
    await p;
    expect(spool.isEmpty).toBe(false);
    expect(spool.backlog.records).toBe(1);
  });

  it('close() flushes appends in flight, then refuses new calls', async () => {
    const spool = await openSpool();
    const pending = Array.from({ length: 5 }, (_, i) => spool.append(rec(i)));
    await spool.close();
    await expect(Promise.all(pending)).resolves.toBeDefined();
    await expect(spool.append(rec(9))).rejects.toThrow(/closed/);
    await expect(spool.peek()).rejects.toThrow(/closed/);
    await expect(spool.ack()).rejects.toThrow(/closed/);
    await spool.close(); // idempotent

    const again = await openSpool();
    expect((await drain(again)).map((r) => r.lines)).toEqual([0, 1, 2, 3, 4]);
  });

  it('starts a new segment at each open and cleans up what was delivered', async () => {
    let spool = await openSpool();
    await spool.append(rec(1));
    await spool.close();
    spool = await openSpool();
    expect(await segmentFiles(dir)).toEqual(['00000000000000000001.seg', '00000000000000000002.seg']);
    await drain(spool);
    expect(await segmentFiles(dir)).toEqual(['00000000000000000002.seg']);
    await spool.close();
    // an empty segment left by an earlier run is removed; ids keep growing
    spool = await openSpool();
    expect(await segmentFiles(dir)).toEqual(['00000000000000000003.seg']);
    await spool.append(rec(2));
    expect((await drain(spool)).map((r) => r.lines)).toEqual([2]);
  });

  it('rejects a record it cannot store without writing anything', async () => {
    const spool = await openSpool();
    await expect(spool.append({ rp: 'x'.repeat(70000), precision: '', body: Buffer.alloc(1), lines: 1 })).rejects.toThrow(
      RangeError,
    );
    expect(spool.isEmpty).toBe(true);
    expect((await fsp.stat(join(dir, (await segmentFiles(dir))[0]))).size).toBe(0);
  });
});
