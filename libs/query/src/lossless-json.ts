/**
 * JSON that keeps the integers influxd writes beyond 2^53 exact: read into BigNumber, written back as
 * the same digits.
 */

/** Marks a BigNumber in JSON.stringify output, replaced by its digits afterwards. */
const BIG_MARK = `\u0000big${Math.random().toString(36).slice(2)}:`;

/** An integer the backend wrote that a JS number cannot hold exactly (epoch=ns times, big int64 fields). */
export class BigNumber {
  constructor(readonly text: string) {}

  toJSON(): string {
    return BIG_MARK + this.text;
  }
}

const LONG_DIGITS = /\d{16}/;

/**
 * JSON.parse that keeps integers beyond 2^53 exact (as BigNumber). Backends answer epoch=ns times
 * such as 1700000000123456789, which a plain JSON.parse would round.
 */
export function parseLossless(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const marker = `\u0000big${Math.random().toString(36).slice(2)}:`;
  let out = '';
  let plainStart = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integer = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) {
          integer = false;
          continue;
        }
        break;
      }
      if (integer && j - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, j)))) {
        out += text.slice(plainStart, i) + JSON.stringify(marker + text.slice(i, j));
        plainStart = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  out += text.slice(plainStart);
  return JSON.parse(out, (_key, value) =>
    typeof value === 'string' && value.startsWith(marker) ? new BigNumber(value.slice(marker.length)) : value,
  );
}

const BIG_MARKED = new RegExp(`"${JSON.stringify(BIG_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g');

/** JSON.stringify output with each BigNumber's mark replaced by its digits (a bare JSON number). */
export function withBigNumberDigits(json: string): string {
  return json.includes('big') ? json.replace(BIG_MARKED, '$1') : json;
}
