import { BigNumber } from './lossless-json';
import type { Value } from './query-result';

// How influxd orders and identifies series and cells (Go's byte order of strings, models.Tags.HashKey),
// for merged answers and CSV.

const SURROGATE_OR_ABOVE = /[\ud800-\uffff]/;

/** Go's string order (UTF-8 bytes, i.e. code points), not JS's UTF-16 code units. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 order differs from code point order only between a surrogate and U+E000..U+FFFF, which
  // needs such characters on both sides.
  if (!SURROGATE_OR_ABOVE.test(a) || !SURROGATE_OR_ABOVE.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (an astral code point) sorts after every BMP character in code point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

const typeRank = (v: Value | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' || v instanceof BigNumber ? 2 : 3;

/** Orders two cells: null, booleans, numbers, strings (bytes). */
export function compareValues(a: Value | undefined, b: Value | undefined): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'string' && typeof b === 'string') return compareBytes(a, b);
  if (ra === 2) {
    if (!(a instanceof BigNumber) && !(b instanceof BigNumber)) return (a as number) - (b as number);
    // A BigNumber is an integer beyond 2^53: compare exactly against the other side's integer part.
    const x = a instanceof BigNumber ? BigInt(a.text) : BigInt(Math.floor(a as number));
    const y = b instanceof BigNumber ? BigInt(b.text) : BigInt(Math.floor(b as number));
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (ra === 1) return Number(a) - Number(b);
  return 0;
}

/** A stable identity for a cell, for de-duplication. */
export function valueKey(v: Value | undefined): string {
  if (v === null || v === undefined) return 'n';
  if (v instanceof BigNumber) return 'd' + v.text;
  switch (typeof v) {
    case 'string':
      return 's' + v;
    case 'number':
      return 'd' + String(v);
    default:
      return 'b' + String(v);
  }
}

function escapeTag(s: string): string {
  return s.replace(/[, =]/g, (c) => '\\' + c);
}

/** models.Tags.HashKey() without its leading comma: sorted, escaped, empty values skipped. */
export function tagsHashKey(tags: Record<string, string> | undefined): string {
  if (!tags) return '';
  const parts: string[] = [];
  for (const key of Object.keys(tags).sort(compareBytes)) {
    const value = tags[key];
    if (value === '' || value === undefined) continue;
    parts.push(`${escapeTag(key)}=${escapeTag(value)}`);
  }
  return parts.join(',');
}
