import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  type CommittedPosition,
  COMMITTED_BYTES,
  decodeCommitted,
  encodeCommitted,
  encodeRecord,
  type EncodedRecord,
  HEADER_BYTES,
  MAX_META_BYTES,
  parseHeader,
  parseMeta,
  parseSegmentFileName,
  segmentFileName,
} from './record-format';
import { readFully, scanRecords, writeFully } from './segment-io';

/** One batch of lines to deliver later, with what it must be written with. */
export interface SpoolRecord {
  /** The backend database the lines go to; absent (records of a single-database proxy, and every record of older versions): the backend's own `db`. */
  db?: string;
  rp: string;
  precision: string;
  body: Buffer;
  lines: number;
}

export interface SpoolBacklog {
  /** Records appended (fsynced) and not yet acknowledged. */
  records: number;
  /** Their size on disk, headers included. */
  bytes: number;
  /** Epoch ms when the oldest un-acked record was appended; null when there is none. */
  oldestAt: number | null;
}

/** An append that would take the un-acked bytes past the cap; nothing was written. */
export class SpoolFullError extends Error {
  constructor(readonly backend: string) {
    super(`spool full for backend ${backend}`);
    this.name = 'SpoolFullError';
  }
}

export interface SpoolOptions {
  /** Backend name, for messages. */
  name: string;
  /** Cap of un-acked bytes on disk (records with their headers, appends in flight included). */
  maxBytes: number;
  /** A segment is closed and a new one started before a record would take it past this; default 64 MiB. */
  segmentBytes?: number;
  /**
   * Told about a torn or corrupt stretch of a segment: from `offset` to its end, `droppedBytes` long.
   * In the newest segment at open it is truncated away; elsewhere it is skipped.
   */
  onCorruptTail?: (info: { file: string; offset: number; droppedBytes: number }) => void;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const COMMITTED_FILE = 'committed';
const COMMITTED_TMP = 'committed.tmp';
/** Records per writev call (2 buffers each), well under IOV_MAX. */
const RECORDS_PER_WRITEV = 256;

interface Segment {
  id: number;
  file: string;
  /** End of the durable, readable records (fsynced; at open: the end of the valid ones). */
  end: number;
  /** Bytes written to the file (the current segment runs ahead of `end` while a group is unsynced). */
  written: number;
  /** Un-acked records in this segment and their bytes. */
  records: number;
  bytes: number;
}

interface Position {
  seg: Segment;
  off: number;
}

interface PendingAppend {
  enc: EncodedRecord;
  appendedAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Peeked {
  record: SpoolRecord;
  seg: Segment;
  off: number;
  size: number;
}

/** Runs async operations one at a time, in call order. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/**
 * A per-backend, on-disk FIFO of write batches (format: see record-format.ts).
 *
 * Appends go to the newest segment and resolve once fsynced; appends arriving while a write+fsync
 * runs are grouped into the next one (group commit). The reader walks from the committed position;
 * ack() moves it past the record last peeked, persists it and deletes segments wholly delivered.
 * Writers and the reader run on two independent serial queues, so replay does not stall appends.
 *
 * At open a new segment is always started: appends never go after bytes written by an earlier process,
 * whatever state it left them in.
 */
export class Spool {
  private readonly name: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly onCorruptTail?: SpoolOptions['onCorruptTail'];

  /** Live segments, oldest first; the last one is the one appended to. */
  private readonly segments: Segment[] = [];
  private writer: FileHandle | null = null;
  private reader: { seg: Segment; fh: FileHandle } | null = null;
  private pos!: Position;
  private peeked: Peeked | null = null;

  private records = 0;
  private bytes = 0;
  private oldestAt: number | null = null;

  private pending: PendingAppend[] = [];
  private pendingCount = 0;
  private pendingBytes = 0;
  private flushScheduled = false;
  private needRotate = false;
  private needDirSync = false;

  private readonly writes = new SerialQueue();
  private readonly reads = new SerialQueue();
  private closed = false;
  private closing?: Promise<void>;

  private constructor(
    private readonly dir: string,
    options: SpoolOptions,
  ) {
    this.name = options.name;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.onCorruptTail = options.onCorruptTail;
  }

  /**
   * Opens (creating) the spool in `dir` and recovers it: a torn or CRC-failing tail of the newest
   * segment is truncated, a corrupt record in an older one ends that segment's readable part; both
   * are reported through onCorruptTail. Bad data never makes it throw (I/O errors do).
   */
  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    if (!(options.maxBytes > 0)) throw new RangeError(`spool ${options.name}: maxBytes must be positive`);
    if (options.segmentBytes !== undefined && !(options.segmentBytes > 0)) {
      throw new RangeError(`spool ${options.name}: segmentBytes must be positive`);
    }
    await fsp.mkdir(dir, { recursive: true });
    const spool = new Spool(dir, options);
    try {
      await spool.recover();
    } catch (err) {
      await spool.releaseHandles();
      throw err;
    }
    return spool;
  }

  get backlog(): SpoolBacklog {
    return { records: this.records, bytes: this.bytes, oldestAt: this.oldestAt };
  }

  /** True when nothing is waiting for delivery: no un-acked record and no append in flight. */
  get isEmpty(): boolean {
    return this.records === 0 && this.pendingCount === 0;
  }

  /**
   * Appends one record; resolves once it is fsynced. Rejects with SpoolFullError, writing nothing,
   * when the un-acked bytes (appends in flight included) plus this record would exceed maxBytes.
   * Appends resolve in call order, which is their order on disk. `record.body` is written as is:
   * leave it unchanged until the promise settles.
   */
  append(record: SpoolRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`spool of backend ${this.name} is closed`));
    const appendedAt = Date.now();
    let enc: EncodedRecord;
    try {
      enc = encodeRecord({ db: record.db, rp: record.rp, precision: record.precision, lines: record.lines, appendedAt }, record.body);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.bytes + this.pendingBytes + enc.size > this.maxBytes) {
      return Promise.reject(new SpoolFullError(this.name));
    }
    this.pendingBytes += enc.size;
    this.pendingCount++;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ enc, appendedAt, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** The oldest record not yet acknowledged, or null when there is none. Twice without ack(): the same record. */
  peek(): Promise<SpoolRecord | null> {
    if (this.closed) return Promise.reject(new Error(`spool of backend ${this.name} is closed`));
    return this.reads.run(async () => {
      if (this.peeked) return this.peeked.record;
      while (this.records > 0) {
        this.pos = this.skipFinished(this.pos);
        const { seg, off } = this.pos;
        const read = await this.readRecordAt(seg, off);
        if (read) {
          this.peeked = { record: read.record, seg, off, size: read.size };
          return read.record;
        }
        const before = this.records;
        await this.dropCorruptRest(seg, off);
        // each pass drops at least one record; if not, the counts are off: stop rather than spin
        if (this.records >= before) throw new Error(`spool of backend ${this.name}: no readable record at ${seg.file}:${off}`);
      }
      return null;
    });
  }

  /**
   * Marks the record last returned by peek() as delivered: persists the position after it
   * (write-temp + fdatasync + rename) and deletes segments wholly delivered. Rejects when no record
   * is peeked.
   */
  ack(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`spool of backend ${this.name} is closed`));
    return this.reads.run(async () => {
      const p = this.peeked;
      if (!p) throw new Error(`spool of backend ${this.name}: ack() without a record from peek()`);
      const next = this.skipFinished({ seg: p.seg, off: p.off + p.size });
      // fsynced only before segments are deleted: a committed position lost in a crash otherwise
      // costs duplicates on replay, never data, and an fsync per replayed record halves replay speed
      await this.persistCommitted({ segmentId: next.seg.id, offset: next.off }, next.seg !== this.segments[0]);
      this.peeked = null;
      p.seg.records--;
      p.seg.bytes -= p.size;
      this.records--;
      this.bytes -= p.size;
      this.pos = next;
      if (this.records === 0) this.oldestAt = null;
      await this.deleteSegmentsBefore(next.seg);
      if (this.records > 0) await this.refreshOldestAt();
      else await this.reclaimDrained();
    });
  }

  /**
   * Once everything is delivered, the segment being appended to holds only delivered records: start
   * a new one and delete it, so a drained spool gives its disk space back at once instead of when the
   * segment fills (64 MiB) or the process restarts. Best effort: on any error the space is
   * reclaimed at the next drain.
   */
  private async reclaimDrained(): Promise<void> {
    if (this.records !== 0 || this.pendingCount !== 0 || this.current.end === 0) return;
    try {
      await this.writes.run(async () => {
        if (this.records === 0 && this.pendingCount === 0 && this.current.end > 0) await this.rotate();
      });
      const seg = this.current;
      if (this.segments[0] === seg) return;
      await this.persistCommitted({ segmentId: seg.id, offset: 0 });
      this.pos = { seg, off: 0 };
      await this.deleteSegmentsBefore(seg);
    } catch {
      // no space for a new segment or the committed file: keep the old segment until the next drain
    }
  }

  /**
   * Reads up to `limit` of the records waiting, oldest first, without delivering any (for operators'
   * listings; the replay reads with peek/ack). Stops at the first record that fails its check.
   */
  list(limit: number): Promise<(SpoolRecord & { appendedAt: number })[]> {
    if (this.closed) return Promise.reject(new Error(`spool of backend ${this.name} is closed`));
    return this.reads.run(async () => {
      const out: (SpoolRecord & { appendedAt: number })[] = [];
      let pos = this.skipFinished(this.pos);
      for (let seen = 0; seen < this.records && out.length < limit; seen++) {
        if (pos.off >= pos.seg.end) break;
        const read = await this.readRecordAt(pos.seg, pos.off);
        if (!read) break;
        out.push({ ...read.record, appendedAt: read.appendedAt });
        pos = this.skipFinished({ seg: pos.seg, off: pos.off + read.size });
      }
      return out;
    });
  }

  /** Writes and fsyncs the appends in flight (resolving them), closes the files. Later calls reject. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.writes.idle();
      await this.reads.idle();
      await this.releaseHandles();
    })();
    return this.closing;
  }

  // ---- recovery ----

  private async recover(): Promise<void> {
    const names = await fsp.readdir(this.dir);
    await fsp.rm(join(this.dir, COMMITTED_TMP), { force: true });
    const ids = names
      .map(parseSegmentFileName)
      .filter((id): id is number => id !== null)
      .sort((a, b) => a - b);
    const committed = await this.readCommitted();
    let maxId = ids.length > 0 ? ids[ids.length - 1] : 0;
    if (committed) maxId = Math.max(maxId, committed.segmentId);

    let start: Position | null = null;
    for (const id of ids) {
      const file = join(this.dir, segmentFileName(id));
      if (committed && id < committed.segmentId) {
        // wholly delivered; its deletion was interrupted
        await unlinkQuietly(file);
        continue;
      }
      const from = committed && id === committed.segmentId ? committed.offset : 0;
      const scan = await this.scanSegment(file, from, id === ids[ids.length - 1]);
      if (scan.fileBytes === 0) {
        await unlinkQuietly(file);
        continue;
      }
      const seg: Segment = { id, file, end: scan.end, written: scan.end, records: scan.records, bytes: scan.bytes };
      this.segments.push(seg);
      start ??= { seg, off: scan.start };
      this.records += scan.records;
      this.bytes += scan.bytes;
      this.oldestAt ??= scan.firstAppendedAt;
    }

    await this.createSegment(maxId + 1);
    this.pos = this.skipFinished(start ?? { seg: this.current, off: 0 });
    await this.deleteSegmentsBefore(this.pos.seg);
  }

  private async readCommitted(): Promise<CommittedPosition | null> {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(join(this.dir, COMMITTED_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // torn or garbage: start from the oldest segment (duplicates, never loss)
    return buf.length === COMMITTED_BYTES ? decodeCommitted(buf) : null;
  }

  /** Validates a segment from `from`; the newest segment is truncated at a bad record, others only end there. */
  private async scanSegment(
    file: string,
    from: number,
    newest: boolean,
  ): Promise<{ start: number; end: number; records: number; bytes: number; firstAppendedAt: number | null; fileBytes: number }> {
    const fh = await fsp.open(file, newest ? 'r+' : 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.min(from, size);
      const scan = await scanRecords(fh, start, size);
      let fileBytes = size;
      if (scan.end < size) {
        if (newest) {
          await fh.truncate(scan.end);
          await fh.datasync();
          fileBytes = scan.end;
        }
        this.reportCorrupt(file, scan.end, size - scan.end);
      }
      return { start, fileBytes, ...scan };
    } finally {
      await fh.close();
    }
  }

  private reportCorrupt(file: string, offset: number, droppedBytes: number): void {
    try {
      this.onCorruptTail?.({ file, offset, droppedBytes });
    } catch {
      // a failing listener must not break recovery
    }
  }

  // ---- writing ----

  private get current(): Segment {
    return this.segments[this.segments.length - 1];
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // queued behind the running group (if any): appends made meanwhile share the next write+fsync
    void this.writes.run(async () => {
      try {
        while (this.pending.length > 0) {
          const group = this.pending;
          this.pending = [];
          await this.writeGroup(group);
        }
      } finally {
        this.flushScheduled = false;
      }
    });
  }

  /** Writes a group of appends (rotating between records as needed), fsyncs, resolves them in order. */
  private async writeGroup(group: PendingAppend[]): Promise<void> {
    let done = 0;
    try {
      if (this.needRotate || !this.writer) await this.rotate();
      while (done < group.length) {
        const seg = this.current;
        let size = seg.written;
        let end = done;
        // the records that fit in this segment (at least one when it is empty)
        while (end < group.length) {
          const s = group[end].enc.size;
          if (size > 0 && size + s > this.segmentBytes) break;
          size += s;
          end++;
        }
        if (end === done) {
          await this.rotate();
          continue;
        }
        for (let from = done; from < end; from += RECORDS_PER_WRITEV) {
          const to = Math.min(end, from + RECORDS_PER_WRITEV);
          const bufs: Buffer[] = [];
          let bytes = 0;
          for (let i = from; i < to; i++) {
            bufs.push(group[i].enc.head, group[i].enc.body);
            bytes += group[i].enc.size;
          }
          seg.written += bytes; // before the write: a failure part-way is rolled back from here
          await writeFully(this.writer!, bufs, bytes);
        }
        // one fsync for all of them
        await this.writer!.datasync();
        if (this.needDirSync) {
          await this.syncDir();
          this.needDirSync = false;
        }
        for (let i = done; i < end; i++) this.commit(seg, group[i]);
        done = end;
      }
    } catch (err) {
      await this.rollback();
      for (let i = done; i < group.length; i++) {
        const p = group[i];
        this.pendingBytes -= p.enc.size;
        this.pendingCount--;
        p.reject(err);
      }
    }
  }

  private commit(seg: Segment, p: PendingAppend): void {
    const size = p.enc.size;
    seg.end += size;
    seg.records++;
    seg.bytes += size;
    this.records++;
    this.bytes += size;
    this.pendingBytes -= size;
    this.pendingCount--;
    this.oldestAt ??= p.appendedAt;
    p.resolve();
  }

  /** After a failed write or fsync: cut the segment back to its durable end, or leave it for a new one. */
  private async rollback(): Promise<void> {
    const seg = this.current;
    if (seg.written === seg.end) return;
    if (this.writer) {
      try {
        await this.writer.truncate(seg.end);
        seg.written = seg.end;
        return;
      } catch {
        // fall through: never append after bytes that may hold a partial record
      }
    }
    this.needRotate = true;
  }

  /** Closes the current segment and starts the next one. */
  private async rotate(): Promise<void> {
    this.needRotate = true;
    if (this.writer) {
      const w = this.writer;
      this.writer = null;
      await w.close().catch(() => undefined);
    }
    await this.createSegment(this.current.id + 1);
    this.needRotate = false;
  }

  private async createSegment(firstId: number): Promise<void> {
    let id = firstId;
    for (;;) {
      const file = join(this.dir, segmentFileName(id));
      try {
        this.writer = await fsp.open(file, 'ax');
      } catch (err) {
        // never reuse a name (a leftover of a failed attempt): take the next
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && id < firstId + 1000) {
          id++;
          continue;
        }
        throw err;
      }
      this.segments.push({ id, file, end: 0, written: 0, records: 0, bytes: 0 });
      break;
    }
    this.needDirSync = true;
    await this.syncDir();
    this.needDirSync = false;
  }

  private async syncDir(): Promise<void> {
    const fh = await fsp.open(this.dir, 'r');
    try {
      await fh.sync();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
    } finally {
      await fh.close();
    }
  }

  // ---- reading ----

  /** Moves a position at the end of a segment no longer written to the start of the next one. */
  private skipFinished(pos: Position): Position {
    let { seg, off } = pos;
    while (off >= seg.end && seg !== this.current) {
      seg = this.segments[this.segments.indexOf(seg) + 1];
      off = 0;
    }
    return { seg, off };
  }

  private async readerFor(seg: Segment): Promise<FileHandle> {
    if (this.reader?.seg === seg) return this.reader.fh;
    await this.closeReader();
    const fh = await fsp.open(seg.file, 'r');
    this.reader = { seg, fh };
    return fh;
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    await r?.fh.close().catch(() => undefined);
  }

  /** The whole, CRC-checked record at `off`, or null when it is torn or corrupt. */
  private async readRecordAt(
    seg: Segment,
    off: number,
  ): Promise<{ record: SpoolRecord; size: number; appendedAt: number } | null> {
    const avail = seg.end - off;
    if (avail < HEADER_BYTES) return null;
    const fh = await this.readerFor(seg);
    const head = Buffer.allocUnsafe(HEADER_BYTES);
    if ((await readFully(fh, head, 0, HEADER_BYTES, off)) < HEADER_BYTES) return null;
    const header = parseHeader(head);
    if (!header || header.totalLength > avail) return null;
    const payload = Buffer.allocUnsafe(header.totalLength - HEADER_BYTES);
    if ((await readFully(fh, payload, 0, payload.length, off + HEADER_BYTES)) < payload.length) return null;
    if (crc32(payload) !== header.crc) return null;
    const meta = parseMeta(payload, payload.length);
    if (!meta) return null;
    return {
      record: {
        ...(meta.db !== undefined ? { db: meta.db } : {}),
        rp: meta.rp,
        precision: meta.precision,
        lines: meta.lines,
        body: payload.subarray(meta.bodyOffset),
      },
      size: header.totalLength,
      appendedAt: meta.appendedAt,
    };
  }

  /**
   * A record that failed its check after open (the disk changed under us): the rest of its segment
   * is reported and skipped. When it is the segment appended to, a new one is started first.
   */
  private async dropCorruptRest(seg: Segment, off: number): Promise<void> {
    if (seg === this.current) await this.writes.run(() => (seg === this.current ? this.rotate() : Promise.resolve()));
    this.reportCorrupt(seg.file, off, seg.end - off);
    this.records -= seg.records;
    this.bytes -= seg.bytes;
    seg.records = 0;
    seg.bytes = 0;
    seg.end = off;
    this.oldestAt = null;
    if (this.records > 0) await this.refreshOldestAt();
  }

  /** Reads appendedAt of the record at the read position (best effort; a bad record is caught by peek). */
  private async refreshOldestAt(): Promise<void> {
    try {
      this.pos = this.skipFinished(this.pos);
      const { seg, off } = this.pos;
      const avail = seg.end - off;
      const fh = await this.readerFor(seg);
      let buf = Buffer.allocUnsafe(Math.min(avail, HEADER_BYTES + 512));
      buf = buf.subarray(0, await readFully(fh, buf, 0, buf.length, off));
      const header = parseHeader(buf);
      if (!header) return;
      const payloadLength = header.totalLength - HEADER_BYTES;
      let meta = parseMeta(buf.subarray(HEADER_BYTES), payloadLength);
      if (!meta && buf.length - HEADER_BYTES < Math.min(payloadLength, MAX_META_BYTES)) {
        const more = Buffer.allocUnsafe(Math.min(payloadLength, MAX_META_BYTES, avail - HEADER_BYTES));
        meta = parseMeta(more.subarray(0, await readFully(fh, more, 0, more.length, off + HEADER_BYTES)), payloadLength);
      }
      if (meta) this.oldestAt = meta.appendedAt;
    } catch {
      // keep the previous value: older, never newer, than the truth
    }
  }

  private async persistCommitted(pos: CommittedPosition, durable = true): Promise<void> {
    const tmp = join(this.dir, COMMITTED_TMP);
    try {
      const fh = await fsp.open(tmp, 'w');
      try {
        await writeFully(fh, [encodeCommitted(pos)], COMMITTED_BYTES);
        if (durable) await fh.datasync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, join(this.dir, COMMITTED_FILE));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
      // A full disk has no block for the temp file, and without a new position the replay could never
      // advance to free anything: overwrite the committed file in place instead (its 24 bytes need no
      // new block). A crash in mid-write leaves bytes that fail their CRC: the replay then starts at
      // the oldest segment again — duplicates, never a lost record.
      await unlinkQuietly(tmp);
      const fh = await fsp.open(join(this.dir, COMMITTED_FILE), 'r+').catch(() => {
        throw err; // no committed file yet: nothing to overwrite, the disk error stands
      });
      try {
        await writeFully(fh, [encodeCommitted(pos)], COMMITTED_BYTES);
        if (durable) await fh.datasync();
      } finally {
        await fh.close();
      }
    }
  }

  /** Deletes the segments before `seg` (wholly delivered; the committed position is already past them). */
  private async deleteSegmentsBefore(seg: Segment): Promise<void> {
    while (this.segments.length > 0 && this.segments[0] !== seg) {
      const old = this.segments.shift()!;
      if (this.reader?.seg === old) await this.closeReader();
      await unlinkQuietly(old.file);
    }
  }

  private async releaseHandles(): Promise<void> {
    await this.closeReader();
    const w = this.writer;
    this.writer = null;
    await w?.close().catch(() => undefined);
  }
}

/** Deletes a file; a failure leaves it for the next open, which deletes what lies before the committed position. */
async function unlinkQuietly(file: string): Promise<void> {
  await fsp.unlink(file).catch(() => undefined);
}
