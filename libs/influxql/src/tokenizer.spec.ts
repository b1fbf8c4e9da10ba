import { Lexer, type Token } from '@app/influxql';

/** Every token of `input` read with the plain scanner (no regex context), whitespace and comments dropped. */
function scanAll(input: string): Token[] {
  const lexer = new Lexer(input);
  const out: Token[] = [];
  for (let pos = 0; ;) {
    const t = lexer.scan(pos);
    if (t.kind === 'eof') return out;
    if (t.kind !== 'whitespace' && t.kind !== 'comment') out.push(t);
    pos = t.end;
  }
}

const kinds = (input: string): string[] => scanAll(input).map((t) => `${t.kind}:${t.value}`);

describe('Lexer', () => {
  describe('identifiers and keywords', () => {
    it('reads bare identifiers, keeping letters, digits and underscores', () => {
      expect(kinds('cpu _x host_1 a9')).toEqual(['ident:cpu', 'ident:_x', 'ident:host_1', 'ident:a9']);
    });

    it('reads keywords case-insensitively and reports them upper-case', () => {
      expect(kinds('select FROM Where aNd or TRUE false')).toEqual([
        'keyword:SELECT',
        'keyword:FROM',
        'keyword:WHERE',
        'keyword:AND',
        'keyword:OR',
        'keyword:TRUE',
        'keyword:FALSE',
      ]);
    });

    it('treats a double-quoted keyword as an identifier', () => {
      const [t] = scanAll('"select"');
      expect(t).toMatchObject({ kind: 'ident', value: 'select', quoted: true, text: '"select"' });
    });

    it('decodes \\" \\\\ and \\n escapes in quoted identifiers and keeps dots and semicolons inside', () => {
      expect(scanAll(String.raw`"my.db" "a\"b" "c\\d" "x;y" "n\nl"`).map((t) => t.value)).toEqual(['my.db', 'a"b', 'c\\d', 'x;y', 'n\nl']);
    });

    it("reads influxd's bare-then-quoted form as one identifier named by the quoted part", () => {
      const [t] = scanAll('abc"def"');
      expect(t).toMatchObject({ kind: 'ident', value: 'def', text: 'abc"def"', start: 0, end: 8 });
    });

    it('reads bound parameters', () => {
      expect(kinds('$host $"a b"')).toEqual(['bound-param:host', 'bound-param:a b']);
    });
  });

  describe('strings', () => {
    it("decodes \\' and other escapes and keeps ; inside", () => {
      expect(scanAll(String.raw`'it\'s' 'a;b' 'q\"q' 'b\\s'`).map((t) => t.value)).toEqual(["it's", 'a;b', 'q"q', 'b\\s']);
    });

    it('records raw text and offsets', () => {
      const [, t] = scanAll(`x 'a\\'b'`);
      expect(t).toEqual({ kind: 'string', text: `'a\\'b'`, value: "a'b", start: 2, end: 8 });
    });
  });

  describe('numbers and durations', () => {
    it('tells integers, decimals and durations apart', () => {
      expect(kinds('42 1.5 .5 10s')).toEqual(['integer:42', 'number:1.5', 'number:.5', 'duration:10s']);
    });

    it('reads every duration unit, including µ and compound durations', () => {
      const units = ['1ns', '1u', '1µ', '1ms', '1s', '1m', '1h', '1d', '1w', '1h30m'];
      expect(scanAll(units.join(' ')).map((t) => `${t.kind}:${t.text}`)).toEqual(units.map((u) => `duration:${u}`));
    });

    it('reads a trailing dot as part of the number, as influxd does', () => {
      const [t] = scanAll('5.');
      expect(t).toMatchObject({ kind: 'number', value: '5', text: '5.' });
    });

    it('reads millisecond epoch literals as durations', () => {
      expect(kinds('1700000000000ms')).toEqual(['duration:1700000000000ms']);
    });
  });

  describe('operators and punctuation', () => {
    it('reads every operator', () => {
      expect(kinds('= != <> < <= > >= =~ !~ + - * / % & | ^').map((k) => k.split(':')[0])).toEqual(Array(17).fill('operator'));
      expect(kinds('= != <> < <= > >= =~ !~ + - * / % & | ^').map((k) => k.slice('operator:'.length))).toEqual([
        '=',
        '!=',
        '!=',
        '<',
        '<=',
        '>',
        '>=',
        '=~',
        '!~',
        '+',
        '-',
        '*',
        '/',
        '%',
        '&',
        '|',
        '^',
      ]);
    });

    it('reads punctuation, with :: as one token', () => {
      expect(kinds(', ( ) ; . :: :')).toEqual([
        'punctuation:,',
        'punctuation:(',
        'punctuation:)',
        'punctuation:;',
        'punctuation:.',
        'punctuation:::',
        'punctuation::',
      ]);
    });

    it('reads operators without spaces around them', () => {
      expect(kinds('a>=1')).toEqual(['ident:a', 'operator:>=', 'integer:1']);
      expect(kinds('v::field')).toEqual(['ident:v', 'punctuation:::', 'keyword:FIELD']);
    });

    it('reports characters InfluxQL has no token for as illegal', () => {
      expect(kinds('# ! 😀')).toEqual(['illegal:#', 'illegal:!', 'illegal:😀']);
    });
  });

  describe('comments', () => {
    it('skips -- comments to the end of the line and /* */ comments, even with ; inside', () => {
      expect(kinds('a -- b; c\n d /* e; \n f */ g')).toEqual(['ident:a', 'ident:d', 'ident:g']);
    });

    it('reads -- without a newline to the end of input', () => {
      const lexer = new Lexer('x --;');
      expect(lexer.scan(2)).toMatchObject({ kind: 'comment', start: 2, end: 5 });
    });
  });

  describe('regexes (only where the parser asks for one)', () => {
    it('reads / as division in plain scanning', () => {
      expect(kinds('a / b')).toEqual(['ident:a', 'operator:/', 'ident:b']);
    });

    it('unescapes \\/ and keeps other backslashes', () => {
      const t = new Lexer(String.raw`/a\/b\d;/`).scanRegex(0);
      expect(t).toMatchObject({ kind: 'regex', value: 'a/b\\d;', start: 0, end: 9 });
    });

    it("treats \\\\/ as a backslash and an escaped slash, as influxd's scanner does", () => {
      const t = new Lexer(String.raw`/a\\/b/`).scanRegex(0);
      expect(t).toMatchObject({ value: 'a\\/b', end: 7 });
    });
  });

  describe('malformed input (returned as tokens; the parser reports them as influxd does)', () => {
    const first = (input: string): Token => new Lexer(input).scan(0);

    it('returns an unclosed string or quoted identifier as bad-string with what was read', () => {
      expect(first("'abc")).toMatchObject({ kind: 'bad-string', value: 'abc', start: 0, end: 4 });
      expect(first("'abc\ndef'")).toMatchObject({ kind: 'bad-string', value: 'abc', end: 4 });
      expect(first('"abc')).toMatchObject({ kind: 'bad-string', value: 'abc' });
      expect(first('abc"def')).toMatchObject({ kind: 'bad-string', value: 'def', start: 3 });
    });

    it('returns an unknown escape as bad-escape', () => {
      expect(new Lexer(String.raw`x 'a\qb'`).scan(2)).toMatchObject({ kind: 'bad-escape', value: '\\q', start: 4, end: 6 });
    });

    it('returns an unclosed block comment as an illegal token running to the end', () => {
      expect(new Lexer('a /* never closed').scan(2)).toMatchObject({ kind: 'illegal', value: '', start: 2, end: 17 });
    });

    it('returns a regex not closed on its line as bad-regex', () => {
      expect(new Lexer('/abc\n/').scanRegex(0)).toMatchObject({ kind: 'bad-regex', value: '', start: 0, end: 4 });
      expect(new Lexer('/abc').scanRegex(0)).toMatchObject({ kind: 'bad-regex' });
    });

    it('never throws', () => {
      for (const input of ["'", '"', '/*', '\\', '$"', "'\\", '\ud800', '😀']) {
        expect(() => scanAll(input)).not.toThrow();
        expect(() => new Lexer(input).scanRegex(0)).not.toThrow();
      }
    });
  });
});
