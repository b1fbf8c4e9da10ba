import type { MergeSpec } from './result-merge';
import type { Series, StatementOutcome } from './query-result';

/**
 * The `rows` merge (SHOW MEASUREMENTS / TAG KEYS / TAG VALUES / FIELD KEYS / SERIES over several
 * backends) done on the backends' JSON bytes instead of parsed values.
 *
 * Grafana asks these of every backend on every dashboard load, and a parse + stringify of thousands of
 * short strings costs far more than the round trips (V8 interns each one). influxd writes these answers
 * in one fixed compact shape, every cell a string; when a cell holds no escape its JSON bytes are its
 * UTF-8 bytes, whose order is Go's string order. So rows are compared and merged as byte ranges and
 * copied out as they came. Anything off that shape (an escape, a number, tags, messages, partial,
 * differing columns, an unsorted list) answers `undefined` and the caller takes the general path,
 * which gives the same answer.
 */
export function mergeRowsRaw(bodies: readonly Buffer[], spec: MergeSpec): StatementOutcome | undefined {
  if (spec.kind !== 'rows') return undefined;
  const groups = new Map<string, RawSeries[]>();
  const order: RawSeries[] = [];
  for (const body of bodies) {
    const series = scanAnswer(body);
    if (series === undefined) return undefined;
    for (const s of series) {
      const key = s.nameStart < 0 ? '' : body.toString('latin1', s.nameStart, s.nameEnd);
      const group = groups.get(key);
      if (!group) {
        groups.set(key, [s]);
        order.push(s);
      } else {
        if (!sameBytes(group[0].body, group[0].columnsStart, group[0].columnsEnd, body, s.columnsStart, s.columnsEnd)) return undefined;
        group.push(s);
      }
    }
  }
  order.sort(compareNames);
  const out: Series[] = [];
  for (const first of order) {
    const group = groups.get(first.nameStart < 0 ? '' : first.body.toString('latin1', first.nameStart, first.nameEnd)) as RawSeries[];
    for (const s of group) if (!isSorted(s)) return undefined;
    let picked = pickAll(group[0]);
    for (let k = 1; k < group.length; k++) picked = mergeTwo(picked, group[k]);
    if (spec.limit !== undefined || spec.offset !== undefined) {
      const offset = spec.offset ?? 0;
      picked = picked.slice(offset, spec.limit ? offset + spec.limit : undefined);
      if (picked.length === 0) continue;
    }
    const series: Series = { columns: JSON.parse(first.body.toString('utf8', first.columnsStart, first.columnsEnd)) as string[] };
    if (first.nameStart >= 0) series.name = first.body.toString('utf8', first.nameStart, first.nameEnd);
    if (picked.length > 0) series.rawValues = render(picked);
    out.push(series);
  }
  return out.length > 0 ? { series: out } : {};
}

/** One series of one backend's answer: where its parts lie in `body`. */
interface RawSeries {
  body: Buffer;
  /** The name's bytes between the quotes; -1 when the series has none (SHOW SERIES). */
  nameStart: number;
  nameEnd: number;
  /** The `[...]` of the columns. */
  columnsStart: number;
  columnsEnd: number;
  cells: number;
  /** Per row: start and end of its `[...]`, then start and end of each cell's bytes between the quotes. */
  rows: number[];
  rowCount: number;
}

/** A merged row: which series it came from and its index there. */
interface Picked {
  from: RawSeries;
  row: number;
}

class OffShape extends Error {}
const OFF_SHAPE = new OffShape();

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const RESULTS_HEAD = Buffer.from('{"results":[{"statement_id":');
const SERIES_HEAD = Buffer.from(',"series":[');
const NAME_KEY = Buffer.from('{"name":"');
const COLUMNS_KEY = Buffer.from('"columns":[');
const VALUES_KEY = Buffer.from(',"values":[');
const NO_NAME_COLUMNS_KEY = Buffer.from('{"columns":[');

/** The series of a one-statement answer in influxd's compact shape; undefined when it is not in that shape. */
function scanAnswer(body: Buffer): RawSeries[] | undefined {
  try {
    const scanner = new Scanner(body);
    return scanner.answer();
  } catch (err) {
    if (err === OFF_SHAPE) return undefined;
    throw err;
  }
}

class Scanner {
  private p = 0;
  /** Where the string last scanned starts. */
  stringStart = 0;

  constructor(private readonly b: Buffer) {}

  answer(): RawSeries[] {
    this.literal(RESULTS_HEAD);
    this.digits();
    const series: RawSeries[] = [];
    if (this.b[this.p] !== 0x7d) {
      this.literal(SERIES_HEAD);
      for (;;) {
        series.push(this.series());
        if (this.b[this.p] === COMMA) this.p++;
        else break;
      }
      this.byte(CLOSE_BRACKET);
    }
    this.byte(0x7d); // }
    this.byte(CLOSE_BRACKET);
    this.byte(0x7d);
    if (this.b[this.p] === 0x0a) this.p++;
    if (this.p !== this.b.length) throw OFF_SHAPE;
    return series;
  }

  private series(): RawSeries {
    const b = this.b;
    let nameStart = -1;
    let nameEnd = -1;
    if (this.startsWith(NAME_KEY)) {
      this.p += NAME_KEY.length - 1;
      nameEnd = this.string();
      nameStart = this.stringStart;
      this.byte(COMMA);
      this.literal(COLUMNS_KEY);
    } else {
      this.literal(NO_NAME_COLUMNS_KEY);
    }
    const columnsStart = this.p - 1;
    let cells = 0;
    for (;;) {
      this.string();
      cells++;
      if (b[this.p] === COMMA) this.p++;
      else break;
    }
    this.byte(CLOSE_BRACKET);
    const columnsEnd = this.p;
    const rows: number[] = [];
    let rowCount = 0;
    if (this.startsWith(VALUES_KEY)) {
      this.p += VALUES_KEY.length;
      for (;;) {
        const rowStart = this.p;
        this.byte(OPEN_BRACKET);
        rows.push(rowStart, 0);
        for (let c = 0; c < cells; c++) {
          if (c > 0) this.byte(COMMA);
          const end = this.string();
          rows.push(this.stringStart, end);
        }
        this.byte(CLOSE_BRACKET);
        rows[rowCount * (2 + 2 * cells) + 1] = this.p;
        rowCount++;
        if (b[this.p] === COMMA) this.p++;
        else break;
      }
      this.byte(CLOSE_BRACKET);
    }
    this.byte(0x7d); // } — tags or partial would be here: not this shape
    return { body: b, nameStart, nameEnd, columnsStart, columnsEnd, cells, rows, rowCount };
  }

  /** A string without escapes: the end of its bytes between the quotes (their start in stringStart). */
  private string(): number {
    const b = this.b;
    this.byte(QUOTE);
    const start = this.p;
    this.stringStart = start;
    const n = b.length;
    for (let i = start; i < n; i++) {
      const c = b[i];
      if (c === QUOTE) {
        this.p = i + 1;
        return i;
      }
      if (c === BACKSLASH) throw OFF_SHAPE;
    }
    throw OFF_SHAPE;
  }

  private digits(): void {
    const start = this.p;
    while (this.b[this.p] >= 0x30 && this.b[this.p] <= 0x39) this.p++;
    if (this.p === start) throw OFF_SHAPE;
  }

  private byte(c: number): void {
    if (this.b[this.p] !== c) throw OFF_SHAPE;
    this.p++;
  }

  private startsWith(lit: Buffer): boolean {
    const b = this.b;
    const p = this.p;
    if (p + lit.length > b.length) return false;
    for (let i = 0; i < lit.length; i++) if (b[p + i] !== lit[i]) return false;
    return true;
  }

  private literal(lit: Buffer): void {
    if (!this.startsWith(lit)) throw OFF_SHAPE;
    this.p += lit.length;
  }
}

/** Byte order of two ranges (Go's string order); a prefix sorts first. */
function compareRange(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = a[as + i] - b[bs + i];
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

function sameBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  return ae - as === be - bs && compareRange(a, as, ae, b, bs, be) === 0;
}

function compareNames(x: RawSeries, y: RawSeries): number {
  if (x.nameStart < 0 || y.nameStart < 0) return (x.nameStart < 0 ? 0 : 1) - (y.nameStart < 0 ? 0 : 1);
  return compareRange(x.body, x.nameStart, x.nameEnd, y.body, y.nameStart, y.nameEnd);
}

/** Cell by cell, as the general merge orders rows. */
function compareRows(x: RawSeries, i: number, y: RawSeries, j: number): number {
  const xw = 2 + 2 * x.cells;
  const yw = 2 + 2 * y.cells;
  const n = Math.min(x.cells, y.cells);
  for (let c = 0; c < n; c++) {
    const xo = i * xw + 2 + 2 * c;
    const yo = j * yw + 2 + 2 * c;
    const d = compareRange(x.body, x.rows[xo], x.rows[xo + 1], y.body, y.rows[yo], y.rows[yo + 1]);
    if (d !== 0) return d;
  }
  return x.cells - y.cells;
}

function isSorted(s: RawSeries): boolean {
  for (let i = 1; i < s.rowCount; i++) if (compareRows(s, i - 1, s, i) > 0) return false;
  return true;
}

function pickAll(s: RawSeries): Picked[] {
  const out = new Array<Picked>(s.rowCount);
  for (let i = 0; i < s.rowCount; i++) out[i] = { from: s, row: i };
  return out;
}

/** Sorted union: equal rows once, the earlier backend's (as the general merge's mergeTwo). */
function mergeTwo(a: Picked[], b: RawSeries): Picked[] {
  if (b.rowCount === 0) return a;
  if (a.length === 0) return pickAll(b);
  const out: Picked[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.rowCount) {
    const c = compareRows(a[i].from, a[i].row, b, j);
    if (c < 0) out.push(a[i++]);
    else if (c > 0) out.push({ from: b, row: j++ });
    else {
      out.push(a[i++]);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.rowCount) out.push({ from: b, row: j++ });
  return out;
}

/** `[row,row,…]`, copying runs of rows that lie back to back in one answer in one piece. */
function render(picked: readonly Picked[]): string {
  let out = '[';
  let k = 0;
  while (k < picked.length) {
    const from = picked[k].from;
    const w = 2 + 2 * from.cells;
    let last = k;
    while (last + 1 < picked.length && picked[last + 1].from === from && picked[last + 1].row === picked[last].row + 1) last++;
    if (k > 0) out += ',';
    out += from.body.toString('utf8', from.rows[picked[k].row * w], from.rows[picked[last].row * w + 1]);
    k = last + 1;
  }
  return out + ']';
}
