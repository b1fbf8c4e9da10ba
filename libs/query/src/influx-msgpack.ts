/**
 * A MessagePack reader for influxd's /query answers (`Accept: application/x-msgpack`, influxd ≥ 1.4).
 *
 * Why not a general-purpose library: the point of asking for msgpack is that it keeps what JSON loses,
 * an integer field's `1` apart from a float field's `1.0` (influxd writes int64 as a msgpack integer and
 * float64 as a float 64). General-purpose JS decoders turn both into the same `number`. This reader
 * returns every msgpack integer as a `bigint` and every float as a `number`, so the type survives, and
 * int64 values above 2^53 (epoch=ns times, big counters) stay exact.
 *
 * influxd writes one msgpack map per response (per chunk with `chunked=true`), back to back; `readOne`
 * reads one of them from a buffer that may hold only part of it (`NEED_MORE`).
 */

/** An ext value (influxd writes times as msgp's ext type 5 when no `epoch` is asked for). */
export interface MsgpackExt {
  readonly ext: number;
  readonly data: Buffer;
}

export type MsgpackValue =
  null | boolean | bigint | number | string | Buffer | MsgpackExt | MsgpackValue[] | { [key: string]: MsgpackValue };

/** The buffer ends inside the value: read again when more bytes have come. */
export const NEED_MORE: unique symbol = Symbol('need more bytes');

class Truncated extends Error {}

/** Reads one value at `offset`: the value and the offset past it, or NEED_MORE. Throws on bytes that are not msgpack. */
export function readOne(buf: Buffer, offset: number): { value: MsgpackValue; end: number } | typeof NEED_MORE {
  const r = new Reader(buf, offset);
  try {
    const value = r.value(0);
    return { value, end: r.at };
  } catch (err) {
    if (err instanceof Truncated) return NEED_MORE;
    throw err;
  }
}

/** Deeper than any influxd answer nests (response → results → series → values → row). */
const MAX_DEPTH = 32;

class Reader {
  constructor(
    private readonly buf: Buffer,
    public at: number,
  ) {}

  private need(n: number): number {
    const start = this.at;
    if (start + n > this.buf.length) throw new Truncated();
    this.at = start + n;
    return start;
  }

  value(depth: number): MsgpackValue {
    if (depth > MAX_DEPTH) throw new Error('msgpack: nested too deep');
    const b = this.buf;
    const type = b[this.need(1)];
    if (type <= 0x7f) return BigInt(type); // positive fixint
    if (type >= 0xe0) return BigInt(type - 0x100); // negative fixint
    if ((type & 0xf0) === 0x80) return this.map(type & 0x0f, depth);
    if ((type & 0xf0) === 0x90) return this.array(type & 0x0f, depth);
    if ((type & 0xe0) === 0xa0) return this.str(type & 0x1f);
    switch (type) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(b.readUInt8(this.need(1)));
      case 0xc5:
        return this.bin(b.readUInt16BE(this.need(2)));
      case 0xc6:
        return this.bin(b.readUInt32BE(this.need(4)));
      case 0xc7:
        return this.ext(b.readUInt8(this.need(1)));
      case 0xc8:
        return this.ext(b.readUInt16BE(this.need(2)));
      case 0xc9:
        return this.ext(b.readUInt32BE(this.need(4)));
      case 0xca:
        return b.readFloatBE(this.need(4));
      case 0xcb:
        return b.readDoubleBE(this.need(8));
      case 0xcc:
        return BigInt(b.readUInt8(this.need(1)));
      case 0xcd:
        return BigInt(b.readUInt16BE(this.need(2)));
      case 0xce:
        return BigInt(b.readUInt32BE(this.need(4)));
      case 0xcf:
        return b.readBigUInt64BE(this.need(8));
      case 0xd0:
        return BigInt(b.readInt8(this.need(1)));
      case 0xd1:
        return BigInt(b.readInt16BE(this.need(2)));
      case 0xd2:
        return BigInt(b.readInt32BE(this.need(4)));
      case 0xd3:
        return b.readBigInt64BE(this.need(8));
      case 0xd4:
        return this.extData(1);
      case 0xd5:
        return this.extData(2);
      case 0xd6:
        return this.extData(4);
      case 0xd7:
        return this.extData(8);
      case 0xd8:
        return this.extData(16);
      case 0xd9:
        return this.str(b.readUInt8(this.need(1)));
      case 0xda:
        return this.str(b.readUInt16BE(this.need(2)));
      case 0xdb:
        return this.str(b.readUInt32BE(this.need(4)));
      case 0xdc:
        return this.array(b.readUInt16BE(this.need(2)), depth);
      case 0xdd:
        return this.array(b.readUInt32BE(this.need(4)), depth);
      case 0xde:
        return this.map(b.readUInt16BE(this.need(2)), depth);
      case 0xdf:
        return this.map(b.readUInt32BE(this.need(4)), depth);
    }
    throw new Error(`msgpack: unknown type byte 0x${type.toString(16)} at ${this.at - 1}`);
  }

  private str(n: number): string {
    const start = this.need(n);
    return this.buf.toString('utf8', start, start + n);
  }

  private bin(n: number): Buffer {
    const start = this.need(n);
    return Buffer.from(this.buf.subarray(start, start + n));
  }

  private ext(n: number): MsgpackExt {
    return this.extData(n);
  }

  private extData(n: number): MsgpackExt {
    const ext = this.buf.readInt8(this.need(1));
    return { ext, data: this.bin(n) };
  }

  private array(n: number, depth: number): MsgpackValue[] {
    // each element takes at least one byte: a length past the buffer's end is only a partial value
    if (this.at + n > this.buf.length) throw new Truncated();
    const out = new Array<MsgpackValue>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private map(n: number, depth: number): { [key: string]: MsgpackValue } {
    if (this.at + 2 * n > this.buf.length) throw new Truncated();
    const out: { [key: string]: MsgpackValue } = Object.create(null) as { [key: string]: MsgpackValue };
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      out[typeof key === 'string' ? key : String(key)] = this.value(depth + 1);
    }
    return out;
  }
}

/** msgp's time ext (type 5: int64 seconds, int32 nanoseconds, big-endian) as ns since the epoch. */
export function extTimeNs(v: MsgpackExt): bigint | undefined {
  if (v.ext !== 5 || v.data.length !== 12) return undefined;
  return v.data.readBigInt64BE(0) * 1_000_000_000n + BigInt(v.data.readInt32BE(8));
}
