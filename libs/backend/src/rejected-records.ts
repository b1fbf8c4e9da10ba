import { Spool, type SpoolRecord } from '@app/spool';

/** One record a backend refused for good on replay, as an operator sees it. */
export interface RejectedEntry {
  /** The backend db the record was for (absent: the backend's own). */
  db?: string;
  rp: string;
  precision: string;
  lines: number;
  /** Epoch ms when it was set aside. */
  rejectedAt: number;
  /** influxd's status and words. */
  status: number;
  reason: string;
  /** The record's first line of protocol, cut at PREVIEW_BYTES. */
  firstLine: string;
}

/** Most bytes of a refusal's words kept with the record. */
const REASON_BYTES = 1024;
const PREVIEW_BYTES = 256;
const NOTE_PREFIX = '# rejected ';

/**
 * A backend's records that it refused for good on replay (a client-class answer: a dropped retention
 * policy, a field type conflict...), kept beside its spool in the same CRC-checked format and bounded
 * by `rejectedMaxBytes`, so that nothing is ever deleted without an operator saying so. Each record
 * starts with a line-protocol comment naming the refusal, which influxd skips if it is sent again.
 */
export class RejectedRecords {
  private constructor(private readonly store: Spool) {}

  static async open(dir: string, backend: string, maxBytes: number): Promise<RejectedRecords> {
    return new RejectedRecords(await Spool.open(dir, { name: `${backend} (rejected records)`, maxBytes }));
  }

  get records(): number {
    return this.store.backlog.records;
  }

  get bytes(): number {
    return this.store.backlog.bytes;
  }

  /** Sets a record aside with the refusal; rejects (SpoolFullError) when the store has no room. */
  add(record: SpoolRecord, status: number, reason: string): Promise<void> {
    const words = oneLine(reason, REASON_BYTES);
    const note = Buffer.from(`${NOTE_PREFIX}${new Date().toISOString()} status=${status}: ${words}\n`, 'utf8');
    return this.store.append({ ...record, body: Buffer.concat([note, record.body]) });
  }

  /** Up to `limit` records, oldest first. */
  async list(limit: number): Promise<RejectedEntry[]> {
    const records = await this.store.list(limit);
    return records.map((r) => {
      const { note, body } = splitNote(r.body);
      const m = /^# rejected \S+ status=(\d+): (.*)$/.exec(note);
      const end = body.indexOf(0x0a);
      return {
        ...(r.db ? { db: r.db } : {}),
        rp: r.rp,
        precision: r.precision,
        lines: r.lines,
        rejectedAt: r.appendedAt,
        status: m ? Number(m[1]) : 0,
        reason: m ? m[2] : note,
        firstLine: oneLine(body.subarray(0, end < 0 ? body.length : end).toString('utf8'), PREVIEW_BYTES),
      };
    });
  }

  /**
   * Takes the records out one by one, oldest first: `take` gets each (without its note) and the record
   * leaves the store only once `take` has resolved. Stops at the first `take` that rejects.
   */
  async takeAll(take: (record: SpoolRecord) => Promise<void>): Promise<{ records: number; lines: number }> {
    let records = 0;
    let lines = 0;
    for (;;) {
      const r = await this.store.peek();
      if (!r) return { records, lines };
      await take({ ...r, body: splitNote(r.body).body });
      await this.store.ack();
      records++;
      lines += r.lines;
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

function splitNote(body: Buffer): { note: string; body: Buffer } {
  if (!body.subarray(0, NOTE_PREFIX.length).equals(Buffer.from(NOTE_PREFIX))) return { note: '', body };
  const end = body.indexOf(0x0a);
  if (end < 0) return { note: body.toString('utf8'), body: body.subarray(body.length) };
  return { note: body.subarray(0, end).toString('utf8'), body: body.subarray(end + 1) };
}

/** `text` on one line (newlines and other control characters as spaces), cut at `max` bytes' worth. */
function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]/g, ' ');
  return flat.length > max ? flat.slice(0, max) + '…' : flat;
}
