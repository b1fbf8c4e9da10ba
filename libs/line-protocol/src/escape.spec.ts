import fc from 'fast-check';
import { escapeFieldKey, escapeMeasurement, escapeTag, quoteStringField } from './escape';
import { LineCursor, LineError, nextLine, unescapeMeasurement } from './line-scanner';

/*
 * Reference reader: how influxd 1.x reads a line's parts back (models/points.go scanKey/scanFields, a
 * `\` skipping the byte after it; unescapeTag, escape.Unescape and unescapeStringField for the values).
 */
function splitUnescaped(text: string, at: string): string[] {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === at) {
      parts.push(text.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(text.slice(from));
  return parts;
}

const unescapeTag = (s: string) => s.replace(/\\([,= ])/g, '$1');
const unescapeFieldKey = (s: string) => s.replace(/\\([,= "])/g, '$1');
const unescapeStringField = (s: string) => s.replace(/\\(["\\])/g, '$1');

/** One line built with the escapes, read back as influxd reads it (through the proxy's own scanner first). */
function readBack(line: string) {
  const buf = Buffer.from(line);
  const cur = new LineCursor();
  expect(nextLine(buf, 0, buf.length, cur)).toBe(true);
  expect(cur.error).toBe(LineError.None);
  expect(cur.next).toBe(buf.length); // one line, whatever the names held
  expect(cur.hasTimestamp).toBe(true);
  const key = buf.toString('utf8', cur.lineStart, cur.keyEnd);
  const [, ...tags] = splitUnescaped(key, ',');
  const [tagKey, tagValue] = splitUnescaped(tags[0], '=');
  const fields = buf.toString('utf8', cur.keyEnd + 1, buf.lastIndexOf(' ', cur.lineEnd - 1));
  const eq = splitUnescaped(fields, '=')[0].length;
  return {
    measurement: unescapeMeasurement(buf, cur.lineStart, cur.measurementEnd),
    tags: tags.length,
    tagKey: unescapeTag(tagKey),
    tagValue: unescapeTag(tagValue),
    fieldKey: unescapeFieldKey(fields.slice(0, eq)),
    fieldValue: unescapeStringField(fields.slice(eq + 2, -1)),
  };
}

describe('line-protocol escaping (as influxd 1.x defines it)', () => {
  it('escapes each part with its own set of bytes', () => {
    expect(escapeMeasurement('cpu load,x=1"')).toBe('cpu\\ load\\,x=1"');
    expect(escapeTag('a=b c,d"')).toBe('a\\=b\\ c\\,d"');
    expect(escapeFieldKey('a=b c,d"')).toBe('a\\=b\\ c\\,d\\"');
    expect(quoteStringField('say "hi" \\ , = ok')).toBe('"say \\"hi\\" \\\\ , = ok"');
    expect(quoteStringField('')).toBe('""');
  });

  it('keeps a backslash outside string values, and writes a line break in a name as an escaped space', () => {
    expect(escapeMeasurement('a\\b')).toBe('a\\b');
    expect(escapeTag('C:\\dir')).toBe('C:\\dir');
    expect(escapeMeasurement('a\nb')).toBe('a\\ b');
    expect(escapeTag('x\ny')).toBe('x\\ y');
    expect(quoteStringField('two\nlines')).toBe('"two\nlines"'); // a quoted value may span lines
  });

  it('gives back the same string when there is nothing to escape', () => {
    const plain = 'cpu_load.1-min';
    expect(escapeMeasurement(plain)).toBe(plain);
    expect(escapeTag(plain)).toBe(plain);
    expect(escapeFieldKey(plain)).toBe(plain);
  });

  it('reads back as written: every part, one line (fast-check)', () => {
    const text = (min: number) =>
      fc.string({ unit: fc.constantFrom('a', 'Z', '1', 'é', ',', '=', ' ', '"', '\n'), minLength: min, maxLength: 12 });
    // influxd has no escape for a line starting with '#' (a comment) or with whitespace (skipped)
    const measurement = text(1).filter((m) => /^[a-zZ1é,="]/.test(m));
    fc.assert(
      fc.property(measurement, text(1), text(1), text(1), fc.string({ maxLength: 12 }), (m, tk, tv, fk, sv) => {
        const line = `${escapeMeasurement(m)},${escapeTag(tk)}=${escapeTag(tv)} ${escapeFieldKey(fk)}=${quoteStringField(sv)} 1`;
        const back = readBack(line);
        const oneLine = (s: string) => s.replace(/\n/g, ' ');
        expect(back).toEqual({
          measurement: oneLine(m),
          tags: 1,
          tagKey: oneLine(tk),
          tagValue: oneLine(tv),
          fieldKey: oneLine(fk),
          fieldValue: sv,
        });
      }),
      { numRuns: 500 },
    );
  });
});
