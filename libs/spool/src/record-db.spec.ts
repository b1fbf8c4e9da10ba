import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from './index';
import { HEADER_BYTES, encodeRecord, parseMeta } from './record-format';

describe('spool records with a backend db (#17)', () => {
  const fields = { rp: 'autogen', precision: 's', lines: 3, appendedAt: 1_700_000_000_000 };
  const body = Buffer.from('cpu v=1 1\ncpu v=2 2\ncpu v=3 3\n');

  it('writes a record without a db byte for byte as before (precLength without its flag, no db field)', () => {
    const { head } = encodeRecord(fields, body);
    expect(head.length).toBe(HEADER_BYTES + 15 + 'autogen'.length + 1);
    expect(head.readUInt8(HEADER_BYTES + 2 + 'autogen'.length)).toBe(1);
    const meta = parseMeta(Buffer.concat([head.subarray(HEADER_BYTES), body]), head.length - HEADER_BYTES + body.length);
    expect(meta).toEqual({ ...fields, bodyOffset: head.length - HEADER_BYTES });
    expect(meta).not.toHaveProperty('db');
  });

  it('keeps a db through encode and parse', () => {
    const { head } = encodeRecord({ ...fields, db: 'application' }, body);
    const payload = Buffer.concat([head.subarray(HEADER_BYTES), body]);
    const meta = parseMeta(payload, payload.length)!;
    expect(meta.db).toBe('application');
    expect(payload.subarray(meta.bodyOffset)).toEqual(body);
  });

  it('delivers records with and without a db, in order, after a reopen', async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), 'spool-db-'));
    try {
      let spool = await Spool.open(dir, { name: 't', maxBytes: 1 << 20 });
      await spool.append({ rp: '', precision: '', body, lines: 3 });
      await spool.append({ db: 'app', rp: 'rp1', precision: 'ms', body, lines: 3 });
      await spool.close();
      spool = await Spool.open(dir, { name: 't', maxBytes: 1 << 20 });
      const first = await spool.peek();
      expect(first).not.toHaveProperty('db');
      await spool.ack();
      const second = await spool.peek();
      expect(second).toMatchObject({ db: 'app', rp: 'rp1', precision: 'ms', lines: 3 });
      expect(second!.body).toEqual(body);
      await spool.ack();
      await spool.close();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
