import fc from 'fast-check';
import { LineCursor, LineError, lineText, nextLine, unescapeMeasurement } from './line-scanner';

/*
 * Reference: a direct port of influxd 1.x models/points.go (ParsePointsWithPrecision, scanLine,
 * skipWhitespace, parsePoint, scanKey's measurement/tag scanners, scanFields, scanNumber, scanBoolean,
 * scanTime). Left out, as they only reject more lines: duplicate-tag/sort checks, max key length,
 * walkFields, number range checks.
 */
const NL = 0x0a;
const SP = 0x20;

function refSkipWhitespace(buf: Uint8Array, i: number): number {
  while (i < buf.length && (buf[i] === SP || buf[i] === 0x09 || buf[i] === 0)) i++;
  return i;
}

function refScanLine(buf: Uint8Array, i: number): number {
  let quoted = false;
  let fields = false;
  let equals = 0;
  let commas = 0;
  for (;;) {
    if (i >= buf.length) break;
    if (buf[i] === 0x5c && i + 2 < buf.length) {
      i += 2;
      continue;
    }
    if (buf[i] === SP) fields = true;
    if (fields) {
      if (!quoted && buf[i] === 0x3d) {
        i++;
        equals++;
        continue;
      } else if (!quoted && buf[i] === 0x2c) {
        i++;
        commas++;
        continue;
      } else if (buf[i] === 0x22 && equals > commas) {
        i++;
        quoted = !quoted;
        continue;
      }
    }
    if (buf[i] === NL && !quoted) break;
    i++;
  }
  return i;
}

/** The lines ParsePointsWithPrecision hands to parsePoint: [start, end) in buf. */
function refLines(buf: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  while (pos < buf.length) {
    const blockStart = pos;
    const i = refScanLine(buf, pos);
    const block = buf.subarray(pos, i);
    pos = i + 1;
    if (block.length === 0) continue;
    const start = refSkipWhitespace(block, 0);
    if (start >= block.length) continue;
    if (block[start] === 0x23) continue;
    let end = block.length;
    if (block[end - 1] === NL) end--;
    out.push([blockStart + start, blockStart + end]);
  }
  return out;
}

type Step = [state: number, i: number, err: string | null];
const TAG_KEY = 0;
const TAG_VALUE = 1;
const FIELDS = 2;
const BS = 0x5c;

function refScanMeasurement(buf: Uint8Array, i: number): Step {
  if (i >= buf.length || buf[i] === 0x2c) return [-1, i, 'missing measurement'];
  for (;;) {
    i++;
    if (i >= buf.length) return [-1, i, 'missing fields'];
    if (buf[i - 1] === BS) continue;
    if (buf[i] === 0x2c) return [TAG_KEY, i + 1, null];
    if (buf[i] === SP) return [FIELDS, i, null];
  }
}

function refScanTagsKey(buf: Uint8Array, i: number): [number, string | null] {
  if (i >= buf.length || buf[i] === SP || buf[i] === 0x2c || buf[i] === 0x3d) return [i, 'missing tag key'];
  for (;;) {
    i++;
    if (i >= buf.length || ((buf[i] === SP || buf[i] === 0x2c) && buf[i - 1] !== BS)) return [i, 'missing tag value'];
    if (buf[i] === 0x3d && buf[i - 1] !== BS) return [i + 1, null];
  }
}

function refScanTagsValue(buf: Uint8Array, i: number): Step {
  if (i >= buf.length || buf[i] === 0x2c || buf[i] === SP) return [-1, i, 'missing tag value'];
  for (;;) {
    i++;
    if (i >= buf.length) return [-1, i, 'missing fields'];
    if (buf[i] === 0x3d && buf[i - 1] !== BS) return [-1, i, 'invalid tag format'];
    if (buf[i] === 0x2c && buf[i - 1] !== BS) return [TAG_KEY, i + 1, null];
    if (buf[i] === SP && buf[i - 1] !== BS) return [FIELDS, i, null];
  }
}

const isNumeric = (b: number): boolean => (b >= 0x30 && b <= 0x39) || b === 0x2e;

function refScanNumber(buf: Uint8Array, i: number): [number, string | null] {
  const start = i;
  let isInt = false;
  let isUnsigned = false;
  if (i < buf.length && buf[i] === 0x2d) {
    i++;
    if (i === buf.length) return [i, 'invalid number'];
  }
  let decimal = false;
  let scientific = false;
  for (;;) {
    if (i >= buf.length) break;
    if (buf[i] === 0x2c || buf[i] === SP) break;
    if (buf[i] === 0x69 && i > start && !(isInt || isUnsigned)) {
      isInt = true;
      i++;
      continue;
    } else if (buf[i] === 0x75 && i > start && !(isInt || isUnsigned)) {
      isUnsigned = true;
      i++;
      continue;
    }
    if (buf[i] === 0x2e) {
      if (decimal) return [i, 'invalid number'];
      decimal = true;
    }
    if (i > start && (buf[i] === 0x65 || buf[i] === 0x45)) {
      scientific = true;
      i++;
      continue;
    }
    if ((buf[i] === 0x2b || buf[i] === 0x2d) && (buf[i - 1] === 0x65 || buf[i - 1] === 0x45)) {
      i++;
      continue;
    }
    if (i + 2 < buf.length && (buf[i] === 0x4e || buf[i] === 0x6e)) return [i, 'invalid number'];
    if (!isNumeric(buf[i])) return [i, 'invalid number'];
    i++;
  }
  if ((isInt || isUnsigned) && (decimal || scientific)) return [i, 'invalid number'];
  let digits = i - start;
  if (isInt) digits--;
  if (decimal) digits--;
  if (buf[start] === 0x2d) digits--;
  if (digits === 0) return [i, 'invalid number'];
  if (isInt && buf[i - 1] !== 0x69) return [i, 'invalid number'];
  if (isUnsigned) return [i, 'invalid number']; // uint64 support is off in influxd 1.x
  return [i, null];
}

function refScanBoolean(buf: Uint8Array, i: number): [number, string | null] {
  const start = i;
  if (i < buf.length && buf[i] !== 0x74 && buf[i] !== 0x66 && buf[i] !== 0x54 && buf[i] !== 0x46) {
    return [i, 'invalid boolean'];
  }
  i++;
  while (i < buf.length && buf[i] !== 0x2c && buf[i] !== SP) i++;
  if (i - start === 1) return [i, null];
  const word = Buffer.from(buf.subarray(start, i)).toString('latin1');
  return [i, ['true', 'false', 'TRUE', 'True', 'FALSE', 'False'].includes(word) ? null : 'invalid boolean'];
}

function refScanFields(buf: Uint8Array, i: number): [number, string | null] {
  const start = refSkipWhitespace(buf, i);
  i = start;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  for (;;) {
    if (i >= buf.length) break;
    if (buf[i] === BS && i + 1 < buf.length) {
      i += 2;
      continue;
    }
    if (buf[i] === 0x22 && equals > commas) {
      quoted = !quoted;
      i++;
      continue;
    }
    if (buf[i] === 0x3d && !quoted) {
      equals++;
      if (buf[i - 1] === SP && buf[i - 2] !== BS) return [i, 'missing field key'];
      if (buf[i - 1] === 0x2c && buf[i - 2] !== BS) return [i, 'missing field key'];
      if (i + 1 >= buf.length) return [i, 'missing field value'];
      if (buf[i + 1] === 0x2c || buf[i + 1] === SP) return [i, 'missing field value'];
      const n = buf[i + 1];
      if (isNumeric(n) || n === 0x2d || n === 0x4e || n === 0x6e) {
        const [j, err] = refScanNumber(buf, i + 1);
        if (err) return [j, err];
        i = j;
        continue;
      }
      if (n !== 0x22) {
        const [j, err] = refScanBoolean(buf, i + 1);
        if (err) return [j, err];
        i = j;
        continue;
      }
    }
    if (buf[i] === 0x2c && !quoted) commas++;
    if (buf[i] === SP && !quoted) break;
    i++;
  }
  if (quoted) return [i, 'unbalanced quotes'];
  if (equals === 0 || commas !== equals - 1) return [i, 'invalid field format'];
  return [i, null];
}

function refScanTime(buf: Uint8Array, i: number): [number, number, string | null] {
  const start = refSkipWhitespace(buf, i);
  i = start;
  for (;;) {
    if (i >= buf.length) break;
    if (buf[i] === NL || buf[i] === SP) break;
    if (i === start && buf[i] === 0x2d) {
      i++;
      continue;
    }
    if (buf[i] < 0x30 || buf[i] > 0x39) return [start, i, 'bad timestamp'];
    i++;
  }
  return [start, i, null];
}

interface RefPoint {
  error: string | null;
  measurementEnd: number;
  /** Where scanKey stopped (the series key's end) when it succeeded. */
  keyEnd: number;
  /** Nothing but whitespace after the key: the fields section is empty. */
  emptyFields: boolean;
  hasTimestamp: boolean;
}

function refParsePoint(buf: Uint8Array): RefPoint {
  const p: RefPoint = { error: null, measurementEnd: 0, keyEnd: -1, emptyFields: false, hasTimestamp: false };
  let [state, i, err] = refScanMeasurement(buf, refSkipWhitespace(buf, 0));
  p.measurementEnd = err === 'missing measurement' ? 0 : state === TAG_KEY ? i - 1 : i;
  if (err) return { ...p, error: err };
  if (state === TAG_KEY) {
    for (;;) {
      if (state === TAG_KEY) {
        [i, err] = refScanTagsKey(buf, i);
        state = TAG_VALUE;
      } else if (state === TAG_VALUE) {
        [state, i, err] = refScanTagsValue(buf, i);
      } else {
        break;
      }
      if (err) return { ...p, error: err };
    }
  }
  p.keyEnd = i;
  p.emptyFields = refSkipWhitespace(buf, i) >= buf.length;
  const [pos, fieldsErr] = refScanFields(buf, i);
  if (fieldsErr) return { ...p, error: fieldsErr };
  const [tsStart, tsEnd, tsErr] = refScanTime(buf, pos);
  if (tsErr) return { ...p, error: tsErr };
  if (tsEnd > tsStart) {
    const text = Buffer.from(buf.subarray(tsStart, tsEnd)).toString('latin1');
    if (!/^-?\d+$/.test(text)) return { ...p, error: 'invalid syntax' };
    const ts = BigInt(text);
    if (ts < -(2n ** 63n) + 2n || ts > 2n ** 63n - 2n) return { ...p, error: 'out of range' };
    for (let k = tsEnd; k < buf.length; k++) if (buf[k] !== SP) return { ...p, error: 'point is invalid' };
  }
  return { ...p, hasTimestamp: tsEnd > tsStart };
}

// ---------------------------------------------------------------------------------------------------

interface Got {
  start: number;
  end: number;
  next: number;
  cur: LineCursor;
}

/** Every line the scanner yields, checking the cursor invariants on the way. */
function scanAll(buf: Buffer, end = buf.length): Got[] {
  const cur = new LineCursor();
  const out: Got[] = [];
  let pos = 0;
  let guard = 0;
  while (nextLine(buf, pos, end, cur)) {
    if (cur.next <= pos || cur.lineStart < pos || cur.lineEnd <= cur.lineStart || cur.lineEnd > cur.next) {
      throw new Error(`bad cursor at ${pos}: ${JSON.stringify(cur)}`);
    }
    if (cur.measurementEnd < cur.lineStart || cur.measurementEnd > cur.keyEnd || cur.keyEnd > cur.lineEnd) {
      throw new Error(`bad offsets at ${pos}: ${JSON.stringify(cur)}`);
    }
    if (++guard > buf.length + 1) throw new Error('no progress');
    pos = cur.next;
    const snapshot = Object.assign(new LineCursor(), cur, { cacheBuf: null });
    out.push({ start: cur.lineStart, end: cur.lineEnd, next: cur.next, cur: snapshot });
  }
  return out;
}

/** The scanner agrees with the reference on `buf`: same lines, same errors, same key and timestamp. */
function checkAgainstReference(buf: Buffer): void {
  const got = scanAll(buf);
  const want = refLines(buf);
  expect(got.map((g) => [g.start, g.end])).toEqual(want);
  for (const g of got) {
    const line = buf.subarray(g.start, g.end);
    const ref = refParsePoint(line);
    const c = g.cur;
    const where = JSON.stringify(line.toString('latin1'));
    expect([where, c.measurementEnd - g.start]).toEqual([where, ref.measurementEnd]);
    const expected =
      ref.error === 'missing measurement'
        ? LineError.MissingMeasurement
        : ref.error === 'missing fields' || ref.emptyFields
          ? LineError.MissingFields
          : LineError.None;
    expect([where, c.error]).toEqual([where, expected]);
    if (ref.keyEnd >= 0) expect([where, c.keyEnd - g.start]).toEqual([where, ref.keyEnd]);
    if (ref.error === null) expect([where, c.hasTimestamp]).toEqual([where, ref.hasTimestamp]);
    // Copied alone and followed by another line, the line ends where it should unless flagged.
    const copy = Buffer.concat([line, Buffer.from('\nz v=1\n')]);
    const copied = refLines(copy);
    const last = copied[copied.length - 1];
    const intact = copy.toString('latin1', last[0], last[1]) === 'z v=1' && last[0] > line.length;
    expect([where, c.unterminated]).toEqual([where, !intact]);
    if (!c.hasTimestamp && !c.unterminated) {
      const stamped = Buffer.concat([line, Buffer.from(' 123\nz v=1\n')]);
      const s = refLines(stamped);
      expect(stamped.toString('latin1', s[s.length - 1][0], s[s.length - 1][1])).toBe('z v=1');
    }
  }
}

// ---- generators of well-formed lines ---------------------------------------------------------------

const char = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'abcxyz_019-.'.split('')) },
  { weight: 3, arbitrary: fc.constantFrom(' ', ',', '=', '\\', '"', '#', '\t', '\r', '\0', "'") },
  { weight: 1, arbitrary: fc.constantFrom('é', '日', '😀', 'ß') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
const text = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: char, minLength: min, maxLength: max });

/**
 * Names influxd can carry through its own escaping: no newline, no trailing '\', and no odd run of '\'
 * right before a byte the escaper prefixes (influxd's scanLine would pair the wrong backslashes).
 */
function escapable(s: string, specials: string): boolean {
  if (s.includes('\n') || s.endsWith('\\')) return false;
  const re = /\\+/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const after = s[m.index + m[0].length];
    if (m[0].length % 2 === 1 && after !== undefined && specials.includes(after)) return false;
  }
  return true;
}

const escapeWith = (s: string, specials: string): string => [...s].map((ch) => (specials.includes(ch) ? `\\${ch}` : ch)).join('');

const measurementName = text(1, 12).filter((s) => escapable(s, ' ') && !/^[\t\0#]/.test(s));
const tagPart = text(1, 8).filter((s) => escapable(s, ' '));
const fieldKey = text(1, 8).filter((s) => escapable(s, ' ,='));
const stringContent = fc.string({
  unit: fc.oneof(char, fc.constantFrom('\n', '\\', '"', '\\n')),
  maxLength: 12,
});
const fieldValue = fc.oneof(
  fc.integer().map((n) => `${n}i`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.constantFrom('t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE'),
  stringContent.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`),
);
const timestamp = fc.bigInt({ min: -(2n ** 63n) + 2n, max: 2n ** 63n - 2n }).map(String);

interface Line {
  name: string;
  /** The line as scanned (no leading whitespace). */
  text: string;
  rawMeasurement: string;
  key: string;
  hasTimestamp: boolean;
}

const validLine: fc.Arbitrary<{ line: Line; leading: string }> = fc
  .record({
    name: measurementName,
    tags: fc.array(fc.tuple(tagPart, tagPart), { maxLength: 3 }),
    fields: fc.array(fc.tuple(fieldKey, fieldValue), { minLength: 1, maxLength: 3 }),
    ts: fc.option(timestamp),
    leading: fc.string({ unit: fc.constantFrom(' ', '\t', '\0'), maxLength: 2 }),
    keyGap: fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 }),
    tsGap: fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 }),
    trailing: fc.string({ unit: fc.constantFrom(' '), maxLength: 2 }),
  })
  .map(({ name, tags, fields, ts, leading, keyGap, tsGap, trailing }) => {
    const rawMeasurement = escapeWith(name, ', ');
    const key = rawMeasurement + tags.map(([k, v]) => `,${escapeWith(k, ', =')}=${escapeWith(v, ', =')}`).join('');
    const fieldText = fields.map(([k, v]) => `${escapeWith(k, ', =')}=${v}`).join(',');
    const text = `${key} ${keyGap}${fieldText}${ts === null ? '' : ` ${tsGap}${ts}`}${trailing}`;
    // A leading ' ' puts influxd's scanLine in "fields" mode from the line's first byte, so an '=' in the
    // measurement, or a '\' that exposes an escaped ',' or '=', would shift its string detection and make
    // influxd itself split elsewhere: keep to tabs and NULs then.
    const plainKey = !name.includes('=') && ![name, ...tags.flat()].some((s) => s.includes('\\'));
    const lead = plainKey ? leading : leading.replace(/ /g, '\t');
    return { line: { name, text, rawMeasurement, key, hasTimestamp: ts !== null }, leading: lead };
  });

const filler = fc.oneof(
  fc.string({ unit: fc.constantFrom(' ', '\t', '\0'), maxLength: 3 }),
  fc.string({ unit: fc.constantFrom(...'abc =,#\t1'.split('')), maxLength: 10 }).map((s) => ` \t#${s}`.slice(2)),
  fc.string({ unit: fc.constantFrom(...'abc =,#\t1'.split('')), maxLength: 10 }).map((s) => `# ${s}`),
);

// ---- generators of near-valid and arbitrary input --------------------------------------------------

const structuredLine = fc
  .tuple(
    fc.constantFrom('', ' ', '\t', '\0', '  '),
    fc.constantFrom('cpu', 'a\\ b', 'x\\,y', 'm=1', 'q"', '\\\\', 'é', ',bad', '', '#c', 'a\\', 'a\\\\,b', '"'),
    fc.array(fc.constantFrom(',t=v', ',k=a\\ b', ',t="x', ',=v', ',t=', ',t', ',t=a=b', ',t=a\\=b', ',a\\,b=c', ',t=\\'), { maxLength: 3 }),
    fc.constantFrom(' ', ' ', '  ', ' \t', '', '\\ ', '\t'),
    fc.array(
      fc.constantFrom(
        'v=1',
        'v=-1.5e3',
        'i=5i',
        'u=5u',
        'b=true',
        'b=tru',
        's="a b"',
        's="x\ny"',
        's="q\\"z"',
        's="back\\\\"',
        's="open',
        'a"b=1',
        'k\\ e=1',
        'k\\=e=2',
        '=1',
        'v=',
        'v=1.2.3',
        'v=NaN',
        'e=1e+5',
        's=""',
        's="\\',
        's="a"b',
      ),
      { minLength: 0, maxLength: 3 },
    ),
    fc.constantFrom('', ' 123', ' -5', '  \t7', ' -', ' 1x', ' 12 ', ' 1 2', '\t5', ' 9223372036854775806', ' 0'),
    fc.constantFrom('', ' ', '  ', '\t', '\r', '\\', '"'),
  )
  .map(([lead, m, tags, gap, fields, ts, trail]) => `${lead}${m}${tags.join('')}${gap}${fields.join(',')}${ts}${trail}`);

const soupLine = fc
  .array(
    fc.constantFrom(
      'cpu',
      'm',
      'a\\ b',
      ',',
      ' ',
      '  ',
      '=',
      '"',
      '\\',
      '\\\\',
      '\\"',
      '\n',
      '#',
      '\t',
      '\0',
      '1',
      '-1',
      '12i',
      '1.5',
      'true',
      'f',
      '123',
      '-5',
      'é',
      '\r',
      't=v',
      ',t=v',
      ' v=1',
      ' s="a b"',
      ' s="x\ny"',
      ' 1700',
      ' -1',
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(''));

/** LP_PROPERTY_RUNS=20000 for a longer hunt; the default keeps the unit suite fast. */
const RUNS = { numRuns: Number(process.env.LP_PROPERTY_RUNS ?? 300) };

describe('nextLine (properties)', () => {
  it('yields exactly the generated lines, with their measurement, key and timestamp', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 3, arbitrary: validLine }, { weight: 1, arbitrary: filler }), { maxLength: 12 }),
        fc.boolean(),
        (items, finalNewline) => {
          const expected: Line[] = [];
          const parts = items.map((item) => {
            if (typeof item === 'string') return item;
            expected.push(item.line);
            return item.leading + item.line.text;
          });
          const buf = Buffer.from(parts.join('\n') + (finalNewline ? '\n' : ''));
          const got = scanAll(buf);
          expect(got.map((g) => buf.toString('utf8', g.start, g.end))).toEqual(expected.map((l) => l.text));
          got.forEach((g, i) => {
            const want = expected[i];
            const c = g.cur;
            expect(lineText(buf, c)).toBe(want.text);
            expect(buf.toString('utf8', c.lineStart, c.measurementEnd)).toBe(want.rawMeasurement);
            expect(unescapeMeasurement(buf, c.lineStart, c.measurementEnd)).toBe(want.name);
            expect(buf.toString('utf8', c.lineStart, c.keyEnd)).toBe(want.key);
            expect(c.hasTimestamp).toBe(want.hasTimestamp);
            expect(c.error).toBe(LineError.None);
            expect(c.unterminated).toBe(false);
          });
          checkAgainstReference(buf);
        },
      ),
      RUNS,
    );
  });

  it('never throws on random bytes and always moves forward to the end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), (bytes, cut) => {
        const buf = Buffer.from(bytes);
        const end = buf.length === 0 ? 0 : cut % (buf.length + 1);
        const got = scanAll(buf, end);
        expect(got.map((g) => [g.start, g.end])).toEqual(refLines(buf.subarray(0, end)));
        if (got.length > 0) expect(got[got.length - 1].next).toBeLessThanOrEqual(end);
      }),
      RUNS,
    );
  });

  it('splits, classifies and timestamps near-valid lines exactly like influxd', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(structuredLine, soupLine), { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n', '\n\n'),
        fc.boolean(),
        (ls, sep, finalNewline) => checkAgainstReference(Buffer.from(ls.join(sep) + (finalNewline ? '\n' : ''))),
      ),
      { numRuns: RUNS.numRuns * 2 },
    );
  });

  it('agrees with influxd on bytes drawn from the protocol alphabet', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x0a, 0x20, 0x22, 0x2c, 0x3d, 0x5c, 0x23, 0x09, 0x00, 0x2d, 0x31, 0x61, 0x74), {
          maxLength: 60,
        }),
        (bytes) => checkAgainstReference(Buffer.from(bytes)),
      ),
      RUNS,
    );
  });
});
