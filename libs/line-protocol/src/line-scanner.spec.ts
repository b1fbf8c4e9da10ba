import { hashBytes, LineCursor, LineError, lineText, nextLine, unescapeMeasurement } from './line-scanner';

interface Scanned {
  line: string;
  measurement: string;
  name: string;
  key: string;
  hasTimestamp: boolean;
  error: LineError;
  unterminated: boolean;
  hash: number;
}

function scanBuffer(buf: Buffer, end = buf.length, cur = new LineCursor()): Scanned[] {
  const out: Scanned[] = [];
  let pos = 0;
  while (nextLine(buf, pos, end, cur)) {
    expect(cur.next).toBeGreaterThan(pos);
    expect(cur.lineStart).toBeGreaterThanOrEqual(pos);
    expect(cur.lineEnd).toBeGreaterThan(cur.lineStart);
    expect(cur.next).toBeGreaterThanOrEqual(cur.lineEnd);
    pos = cur.next;
    out.push({
      line: lineText(buf, cur),
      measurement: buf.toString('utf8', cur.lineStart, cur.measurementEnd),
      name: unescapeMeasurement(buf, cur.lineStart, cur.measurementEnd),
      key: buf.toString('utf8', cur.lineStart, cur.keyEnd),
      hasTimestamp: cur.hasTimestamp,
      error: cur.error,
      unterminated: cur.unterminated,
      hash: cur.measurementHash,
    });
  }
  expect(cur.next).toBe(Math.min(end, buf.length));
  return out;
}

const scan = (text: string): Scanned[] => scanBuffer(Buffer.from(text));
const lines = (text: string): string[] => scan(text).map((l) => l.line);
const one = (text: string): Scanned => {
  const all = scan(text);
  expect(all).toHaveLength(1);
  return all[0];
};

describe('nextLine', () => {
  it('reads one line per newline and reports measurement, series key and timestamp', () => {
    const body = 'cpu,host=a,region=b usage=1.5,count=5i 1700000000000000000\nmem free=3i\n';
    expect(scan(body)).toEqual([
      expect.objectContaining({
        line: 'cpu,host=a,region=b usage=1.5,count=5i 1700000000000000000',
        measurement: 'cpu',
        key: 'cpu,host=a,region=b',
        hasTimestamp: true,
        error: LineError.None,
        unterminated: false,
      }),
      expect.objectContaining({ line: 'mem free=3i', measurement: 'mem', key: 'mem', hasTimestamp: false }),
    ]);
  });

  it('finds no line in an empty body', () => {
    const cur = new LineCursor();
    expect(nextLine(Buffer.alloc(0), 0, 0, cur)).toBe(false);
    expect(cur.next).toBe(0);
  });

  it('skips empty lines and lines of spaces, tabs and NUL bytes', () => {
    expect(lines('\n\n  \n\t\t\n\0 \0\ncpu v=1\n\n \n')).toEqual(['cpu v=1']);
    expect(lines(' \t \n\n')).toEqual([]);
  });

  it('starts a line after its leading spaces, tabs and NUL bytes', () => {
    const l = one('  \t\0cpu,t=x v=1 5');
    expect(l.line).toBe('cpu,t=x v=1 5');
    expect(l.measurement).toBe('cpu');
    expect(l.hasTimestamp).toBe(true);
  });

  it('skips comment lines, also indented ones', () => {
    expect(lines('# a comment\ncpu v=1\n   # another\n\t#x y=1\nmem v=2')).toEqual(['cpu v=1', 'mem v=2']);
  });

  it('keeps a quoted newline of a comment line inside the comment, as influxd does', () => {
    expect(lines('# note a="x\ny" 1\ncpu v=1\n')).toEqual(['cpu v=1']);
  });

  it('keeps the \\r of a CRLF line ending as part of the line', () => {
    expect(lines('cpu v=1\r\nmem v=2 10\r\n')).toEqual(['cpu v=1\r', 'mem v=2 10\r']);
  });

  it('reads a last line that has no trailing newline', () => {
    const body = Buffer.from('cpu v=1\nmem v=2 3');
    const cur = new LineCursor();
    expect(nextLine(body, 0, body.length, cur)).toBe(true);
    expect(nextLine(body, cur.next, body.length, cur)).toBe(true);
    expect(lineText(body, cur)).toBe('mem v=2 3');
    expect(cur.lineEnd).toBe(body.length);
    expect(cur.next).toBe(body.length);
    expect(cur.hasTimestamp).toBe(true);
    expect(nextLine(body, cur.next, body.length, cur)).toBe(false);
  });

  it('keeps a newline inside a quoted string field in the same line', () => {
    const all = scan('cpu msg="first\nsecond" 1700\nmem v=1\n');
    expect(all.map((l) => l.line)).toEqual(['cpu msg="first\nsecond" 1700', 'mem v=1']);
    expect(all[0].hasTimestamp).toBe(true);
    expect(all[0].unterminated).toBe(false);
  });

  it('keeps an escaped quote and a newline inside a string field in the same line', () => {
    expect(lines('cpu msg="say \\"hi\\"\nand \\\\ bye",n=1i 5\nmem v=1')).toEqual([
      'cpu msg="say \\"hi\\"\nand \\\\ bye",n=1i 5',
      'mem v=1',
    ]);
  });

  it('joins two lines at a backslash-escaped newline', () => {
    expect(lines('cpu,t=a\\\nb v=1\nmem v=2\n')).toEqual(['cpu,t=a\\\nb v=1', 'mem v=2']);
  });

  it('does not let a backslash among the last two bytes escape the byte after it', () => {
    expect(lines('cpu v=1\\\n')).toEqual(['cpu v=1\\']);
    expect(lines('cpu v=1\\\nx')).toEqual(['cpu v=1\\\nx']);
  });

  it('strips the newline left at the end of a line by an escaped newline', () => {
    const all = scan('cpu v=1\\\n\nmem v=2\n');
    expect(all.map((l) => l.line)).toEqual(['cpu v=1\\', 'mem v=2']);
    expect(all[0].unterminated).toBe(true);
  });

  describe('string starts (the equals > commas rule)', () => {
    it('treats a quote in a tag value as an ordinary byte', () => {
      expect(lines('cpu,t="a v=1\nmem v=2')).toEqual(['cpu,t="a v=1', 'mem v=2']);
    });

    it('treats a quote in a field key as an ordinary byte', () => {
      expect(lines('cpu a"b=1\nmem v=2')).toEqual(['cpu a"b=1', 'mem v=2']);
      expect(lines('cpu a=1,b"c=2\nmem v=2')).toEqual(['cpu a=1,b"c=2', 'mem v=2']);
    });

    it('treats a quote in a measurement as an ordinary byte', () => {
      expect(lines('"quoted" v=1\nmem v=2').length).toBe(2);
    });

    it('opens a string at a quote after a field key and its =', () => {
      expect(lines('cpu a=1,b="c\nd" 5\nmem v=2')).toEqual(['cpu a=1,b="c\nd" 5', 'mem v=2']);
    });
  });

  it('ends a string left open at the end of the body there, minus its last newline', () => {
    const all = scan('mem v=1\ncpu s="abc\n');
    expect(all.map((l) => l.line)).toEqual(['mem v=1', 'cpu s="abc']);
    expect(all[1].unterminated).toBe(true);
  });

  it('flags lines that would swallow the next line when copied into a batch', () => {
    expect(one('cpu s="open').unterminated).toBe(true);
    expect(one('cpu v=1\\').unterminated).toBe(true);
    expect(one('cpu v=1\\\\').unterminated).toBe(false);
    expect(one('cpu s="closed" 1').unterminated).toBe(false);
    expect(one('cpu,t=a\\ b v=1').unterminated).toBe(false);
    expect(one('cpu v=1').unterminated).toBe(false);
  });

  it('scans only up to the given end', () => {
    const buf = Buffer.from('cpu v=1\nmem v=2 5\ndisk v=3\n');
    const all = scanBuffer(buf, 15);
    expect(all.map((l) => l.line)).toEqual(['cpu v=1', 'mem v=2']);
    expect(all[1].hasTimestamp).toBe(false);
  });

  it('reads a reused cursor correctly across buffers and when a buffer is scanned again', () => {
    const cur = new LineCursor();
    const a = Buffer.from('cpu s="x\ny" 1\nmem v=1\n');
    const b = Buffer.from('cpu v=1\nmem\\ x v=2\n');
    expect(scanBuffer(a, a.length, cur).map((l) => l.line)).toEqual(['cpu s="x\ny" 1', 'mem v=1']);
    expect(scanBuffer(b, b.length, cur).map((l) => l.measurement)).toEqual(['cpu', 'mem\\ x']);
    // The same Buffer object refilled in place and scanned again from 0.
    const c = Buffer.from('aaa v=1\nbbb v=2\n');
    expect(scanBuffer(c, c.length, cur).map((l) => l.line)).toEqual(['aaa v=1', 'bbb v=2']);
    c.fill(0x0a).write('a"a s="\nb" 1\n', 0);
    expect(scanBuffer(c, c.length, cur).map((l) => l.line)).toEqual(['a"a s="\nb" 1']);
  });

  it('moves next strictly forward, to the end after the last line', () => {
    const buf = Buffer.from('\n\ncpu v=1\n# c\n\nmem v=2\n\n');
    const cur = new LineCursor();
    const seen: number[] = [];
    let pos = 0;
    while (nextLine(buf, pos, buf.length, cur)) {
      seen.push(cur.next);
      pos = cur.next;
    }
    expect(seen).toEqual([10, 23]);
    expect(cur.next).toBe(buf.length);
  });
});

describe('measurement', () => {
  it.each([
    ['cpu v=1', 'cpu', 'cpu'],
    ['cpu,host=a v=1', 'cpu', 'cpu'],
    ['my\\ meas,t=a v=1', 'my\\ meas', 'my meas'],
    ['my\\,comma v=1', 'my\\,comma', 'my,comma'],
    ['"quoted" v=1', '"quoted"', '"quoted"'],
    ['a\\\\b v=1', 'a\\\\b', 'a\\\\b'],
    ['a=b v=1', 'a=b', 'a=b'],
    ['a\\=b v=1', 'a\\=b', 'a\\=b'],
    // influxd: a byte right after any '\' is escaped, so this ',' belongs to the measurement.
    ['a\\\\,b v=1', 'a\\\\,b', 'a\\,b'],
    ['\\ lead v=1', '\\ lead', ' lead'],
    ['日本\\ 語,t=x v=1', '日本\\ 語', '日本 語'],
  ])('reads the measurement of %j', (line, raw, name) => {
    const l = one(line);
    expect(l.measurement).toBe(raw);
    expect(l.name).toBe(name);
    expect(l.error).toBe(LineError.None);
  });

  it('hashes the raw measurement bytes with 32-bit FNV-1a', () => {
    expect(hashBytes(Buffer.from('a'), 0, 1)).toBe(0xe40c292c);
    expect(hashBytes(Buffer.from('foobar'), 0, 6)).toBe(0xbf9cf968);
    const all = scan('foobar,t=1 v=1\ncpu v=1\nfoobar v=2 5\nmy\\ m v=1\n');
    expect(all[0].hash).toBe(0xbf9cf968);
    expect(all[2].hash).toBe(0xbf9cf968);
    expect(all[1].hash).toBe(hashBytes(Buffer.from('cpu'), 0, 3));
    expect(all[3].hash).toBe(hashBytes(Buffer.from('my\\ m'), 0, 5));
  });
});

describe('errors', () => {
  it.each([',cpu value=1', ',', ' ,cpu v=1 5', ',cpu'])('reports a missing measurement in %j', (line) => {
    const l = one(line);
    expect(l.error).toBe(LineError.MissingMeasurement);
    expect(l.measurement).toBe('');
    expect(l.hasTimestamp).toBe(false);
  });

  it.each([
    ['cpu', 'cpu'],
    ['cpu ', 'cpu'],
    ['cpu \t ', 'cpu'],
    ['cpu\\ value=1', 'cpu\\ value=1'],
    ['cpu,host=a', 'cpu,host=a'],
    ['cpu,host=a ', 'cpu,host=a'],
    ['cpu,host==', 'cpu,host=='],
    ['cpu,t=a\\ b', 'cpu,t=a\\ b'],
    ['=', '='],
    ['cpu_load_short,host=server01,region=us-west', 'cpu_load_short,host=server01,region=us-west'],
  ])('reports missing fields in %j', (line, key) => {
    const l = one(line);
    expect(l.error).toBe(LineError.MissingFields);
    expect(l.key).toBe(key);
    expect(l.hasTimestamp).toBe(false);
  });

  it.each([
    ['cpu,host value=1', 'cpu,host'], // influxd: missing tag value
    ['cpu,host', 'cpu,host'], // missing tag value
    ['cpu,host=', 'cpu,host='], // missing tag value
    ['cpu,', 'cpu,'], // missing tag key
    ['cpu,=a v=1', 'cpu,=a'], // missing tag key
    ['cpu,a=b=c v=1', 'cpu,a=b=c'], // invalid tag format
    ['cpu,a=b,c ', 'cpu,a=b,c'], // missing tag value
    ['cpu =1', 'cpu'], // missing field key
    ['cpu v=', 'cpu'], // missing field value
    ['cpu v=1 abc', 'cpu'], // bad timestamp
  ])('leaves other faults of %j to the backend', (line, key) => {
    const l = one(line);
    expect(l.error).toBe(LineError.None);
    expect(l.key).toBe(key);
  });
});

describe('hasTimestamp', () => {
  it.each([
    ['cpu v=1 1700000000000000000', true],
    ['cpu,t=1 v=1 2', true],
    ['cpu v=1,w=2 0', true],
    ['cpu v=1 -1700', true],
    ['cpu v=1 123   ', true],
    ['cpu v=1    123', true],
    ['cpu    v=1 123', true],
    ['cpu v=1 \t123', true],
    ['cpu s="a" 123', true],
    ['cpu s="x\n1" 5', true],
    ['cpu s="a\\\\" 123', true],
    ['cpu s="x"\t 123', true],
    ['cpu\\ 1,t=a\\ 2 v=3 4', true],
    ['cpu v=1', false],
    ['cpu v=-1', false],
    ['cpu v=1i', false],
    ['cpu v=1 ', false],
    ['cpu v=1 \t', false],
    ['cpu,t=1 v=1', false],
    ['cpu 123', false],
    ['cpu  123', false],
    ['cpu s="a 123"', false],
    ['cpu s="x"\t123', false],
    ['cpu\\ 1 v=1', false],
    ['cpu,t=a\\ 1 v=2', false],
  ])('%j → %s', (line, expected) => {
    const l = one(line);
    expect(l.error).toBe(LineError.None);
    expect(l.hasTimestamp).toBe(expected);
  });

  it('stops looking for a timestamp at a raw newline after the fields, as influxd does', () => {
    // The leading space makes influxd's scanLine treat `s="x\ny""` differently from its scanFields: the
    // block keeps raw newlines, and scanTime ends at the first one after the fields.
    const l = one(' s="x\ny""\n s="a b"  \n -1');
    expect(l.line).toBe('s="x\ny""\n s="a b"  \n -1');
    expect(l.hasTimestamp).toBe(false);
    expect(one(' s="x\ny""\n s="a b" -1').hasTimestamp).toBe(true);
  });

  it('does not throw on invalid timestamp sections', () => {
    for (const line of ['cpu v=1 -', 'cpu v=1 --5', 'cpu v=1 5-', 'cpu v=1 123\r', 'cpu v=1 1 2']) {
      expect(() => one(line)).not.toThrow();
    }
  });
});

describe('unescapeMeasurement', () => {
  const unescape = (raw: string): string => {
    const buf = Buffer.from(`xx${raw}yy`);
    return unescapeMeasurement(buf, 2, buf.length - 2);
  };

  it.each([
    ['my\\ meas', 'my meas'],
    ['my\\,comma', 'my,comma'],
    ['"quoted"', '"quoted"'],
    ['a\\\\b', 'a\\\\b'],
    ['a\\=b', 'a\\=b'],
    ['a\\\\ b', 'a\\ b'],
    ['\\,\\ \\,', ', ,'],
    ['trailing\\', 'trailing\\'],
    ['caf\\ é\\,日本', 'caf é,日本'],
    ['', ''],
  ])('turns %j into %j', (raw, name) => {
    expect(unescape(raw)).toBe(name);
  });
});

describe('lineText', () => {
  it('gives the whole line, quoted newlines included, without its terminator', () => {
    const buf = Buffer.from('  cpu s="a\nb"\nmem v=1\n');
    const cur = new LineCursor();
    expect(nextLine(buf, 0, buf.length, cur)).toBe(true);
    expect(`unable to parse '${lineText(buf, cur)}': x`).toBe(`unable to parse 'cpu s="a\nb"': x`);
  });
});
