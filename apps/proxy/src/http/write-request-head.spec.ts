import * as fc from 'fast-check';
import { HANDED_OVER, MAX_FAST_BODY, MAX_FAST_HEAD, readWriteHead } from './write-request-head';

const head = (lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
const write = (extra: string[] = [], line = 'POST /write?db=mydb&precision=s HTTP/1.1') =>
  head([line, 'Host: 127.0.0.1:8086', ...extra, 'Content-Length: 10']);

describe('readWriteHead', () => {
  it('reads the query string, the body length and where the body starts', () => {
    const buf = Buffer.concat([write(['User-Agent: telegraf', 'Content-Type: text/plain; charset=utf-8']), Buffer.from('cpu v=1 1\n')]);
    expect(readWriteHead(buf, 0)).toEqual({ search: 'db=mydb&precision=s', contentLength: 10, bodyStart: buf.length - 10 });
  });

  it('reads a head that starts further into the buffer (pipelined requests)', () => {
    const first = Buffer.from('xxxxx');
    const buf = Buffer.concat([first, write()]);
    expect(readWriteHead(buf, first.length)).toMatchObject({ search: 'db=mydb&precision=s', bodyStart: buf.length });
  });

  it('takes header names in any case, Connection: keep-alive and headers it does not need', () => {
    const buf = head(['POST /write HTTP/1.1', 'host: x', 'CONTENT-LENGTH:  0 ', 'Connection: Keep-Alive', 'Accept: */*', 'X-Custom:\tv']);
    expect(readWriteHead(buf, 0)).toEqual({ search: '', contentLength: 0, bodyStart: buf.length });
  });

  it('waits for a head that has not all arrived', () => {
    const whole = write();
    for (const cut of [0, 1, 4, 11, 30, whole.length - 1]) expect(readWriteHead(whole.subarray(0, cut), 0)).toBe('incomplete');
  });

  it.each([
    ['another method', write([], 'GET /write?db=x HTTP/1.1')],
    ['another path', write([], 'POST /query?db=x HTTP/1.1')],
    ['a longer path', write([], 'POST /writes?db=x HTTP/1.1')],
    ['HTTP/1.0', write([], 'POST /write?db=x HTTP/1.0')],
    ['a space in the target', write([], 'POST /write?db=x y HTTP/1.1')],
    ['a fragment', write([], 'POST /write?db=x#y HTTP/1.1')],
    ['two spaces', write([], 'POST  /write?db=x HTTP/1.1')],
    ['gzip', write(['Content-Encoding: gzip'])],
    ['chunked', head(['POST /write HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'])],
    ['Expect', write(['Expect: 100-continue'])],
    ['credentials', write(['Authorization: Basic dTpw'])],
    ["the client's request id", write(['X-Request-Id: abc'])],
    ["the client's Request-Id", write(['Request-Id: abc'])],
    ['Connection: close', write(['Connection: close'])],
    ['Upgrade', write(['Upgrade: h2c'])],
    ['no Host', head(['POST /write HTTP/1.1', 'Content-Length: 1'])],
    ['two Hosts', write(['Host: y'])],
    ['no Content-Length', head(['POST /write HTTP/1.1', 'Host: x'])],
    ['two Content-Lengths', write(['Content-Length: 10'])],
    ['a Content-Length that is not digits', head(['POST /write HTTP/1.1', 'Host: x', 'Content-Length: 1e3'])],
    ['a negative Content-Length', head(['POST /write HTTP/1.1', 'Host: x', 'Content-Length: -1'])],
    ['a body over the limit', head(['POST /write HTTP/1.1', 'Host: x', `Content-Length: ${MAX_FAST_BODY + 1}`])],
    ['obs-fold', write(['X-A: 1', ' continued'])],
    ['a space before the colon', write(['X-A : 1'])],
    ['no colon', write(['X-A'])],
    ['an empty name', write([': 1'])],
    ['a control character', write(['X-A: a\u0001b'])],
    ['a byte past ASCII', write(['X-A: caf\u00e9'])],
    ['a bare LF', Buffer.from('POST /write HTTP/1.1\nHost: x\r\nContent-Length: 0\r\n\r\n', 'latin1')],
    ['a bare CR', Buffer.from('POST /write HTTP/1.1\r\nHost: x\rX: 1\r\nContent-Length: 0\r\n\r\n', 'latin1')],
    ['too many header lines', write(Array.from({ length: 70 }, (_, i) => `X-${i}: 1`))],
    ['a head too long', write([`X-A: ${'a'.repeat(MAX_FAST_HEAD)}`])],
    ['a long head not yet ended', Buffer.from(`POST /write HTTP/1.1\r\nX-A: ${'a'.repeat(MAX_FAST_HEAD)}`, 'latin1')],
  ])('leaves %s to node:http', (_what, buf) => {
    expect(readWriteHead(buf, 0)).toBe('other');
  });

  it('never throws, and anything it serves is a well-formed /write head (fuzz: arbitrary bytes after the prefix)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, prefixed) => {
        const buf = Buffer.concat([Buffer.from(prefixed ? 'POST /write' : ''), Buffer.from(bytes)]);
        const verdict = readWriteHead(buf, 0);
        if (typeof verdict === 'string') return;
        const text = buf.toString('latin1', 0, verdict.bodyStart);
        expect(text.startsWith('POST /write')).toBe(true);
        expect(text.endsWith('\r\n\r\n')).toBe(true);
        expect(text.split('\r\n')[0].endsWith(' HTTP/1.1')).toBe(true);
        expect(verdict.contentLength).toBeLessThanOrEqual(MAX_FAST_BODY);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads what a generated well-formed request says (fuzz: query strings, header sets, cuts)', () => {
    const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((n) => !RESERVED.has(n.toLowerCase()));
    const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
    const search = fc.stringMatching(/^[A-Za-z0-9=&%._~-]{0,60}$/);
    fc.assert(
      fc.property(search, fc.array(fc.tuple(token, value), { maxLength: 10 }), fc.nat(MAX_FAST_BODY), (q, extra, length) => {
        const buf = head([
          `POST /write${q === '' ? '' : '?' + q} HTTP/1.1`,
          'Host: h',
          ...extra.map(([n, v]) => `${n}: ${v}`),
          `Content-Length: ${length}`,
        ]);
        expect(readWriteHead(buf, 0)).toEqual({ search: q, contentLength: length, bodyStart: buf.length });
        // any cut short of the blank line waits for the rest
        const cut = Math.floor((length / MAX_FAST_BODY) * (buf.length - 1));
        expect(readWriteHead(buf.subarray(0, cut), 0)).toBe('incomplete');
      }),
      { numRuns: 1000 },
    );
  });
});

/** Header names the generated requests leave out: the ones the reader looks at. */
const RESERVED = new Set(['host', 'content-length', 'connection', ...HANDED_OVER]);
