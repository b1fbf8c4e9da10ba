import fc from 'fast-check';
import { type HttpAnswer, HttpAnswerParser } from './http-answer-parser';

/** Feeds `bytes` in pieces cut at `cuts`; the answer, or the error thrown. */
function parse(bytes: Buffer, cuts: number[] = []): { answer?: HttpAnswer; error?: string; extra: boolean; ended: boolean } {
  const parser = new HttpAnswerParser();
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  try {
    for (const to of [...at, bytes.length]) {
      const answer = parser.push(bytes.subarray(from, to));
      from = to;
      if (answer) return { answer, extra: parser.extra, ended: false };
    }
    const atEnd = parser.end();
    return { answer: atEnd, extra: parser.extra, ended: true };
  } catch (err) {
    return { error: (err as Error).message, extra: parser.extra, ended: false };
  }
}

const text = (s: string) => Buffer.from(s, 'latin1');

describe('HttpAnswerParser', () => {
  it("reads influxd's 204 with its version, ready for the next request", () => {
    const { answer } = parse(
      text('HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\nX-Influxdb-Build: OSS\r\nX-Influxdb-Version: 1.6.7~rc0\r\n\r\n'),
    );
    expect(answer).toEqual({ status: 204, body: Buffer.alloc(0), version: '1.6.7~rc0', keepAlive: true });
  });

  it('reads an error body by Content-Length, a header holding a control character included', () => {
    const body = '{"error":"unable to parse \'ctl v=\u0001\': invalid boolean"}\n';
    const { answer } = parse(
      text(`HTTP/1.1 400 Bad Request\r\nX-Influxdb-Error: unable to parse 'ctl v=\u0001'\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
    expect(answer?.status).toBe(400);
    expect(answer?.body.toString('latin1')).toBe(body);
    expect(answer?.keepAlive).toBe(true);
  });

  it('reads a chunked body with extensions and trailers, skips a 100 Continue first', () => {
    const { answer } = parse(
      text(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5;x=y\r\n{"err\r\n9\r\nor":"x"}\n\r\n0\r\nTrailer: t\r\n\r\n',
      ),
    );
    expect(answer?.status).toBe(500);
    expect(answer?.body.toString()).toBe('{"error":"x"}\n');
  });

  it('does not reuse a connection the answer closes: Connection: close, HTTP/1.0, a body read to the end, bytes after the answer', () => {
    expect(parse(text('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n')).answer?.keepAlive).toBe(false);
    expect(parse(text('HTTP/1.0 204 No Content\r\n\r\n')).answer?.keepAlive).toBe(false);
    expect(parse(text('HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n')).answer?.keepAlive).toBe(true);
    const toEnd = parse(text('HTTP/1.1 503 Service Unavailable\r\n\r\nbusy'));
    expect(toEnd).toMatchObject({ ended: true, answer: { status: 503, keepAlive: false } });
    expect(toEnd.answer?.body.toString()).toBe('busy');
    expect(parse(text('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'))).toMatchObject({
      extra: true,
      answer: { status: 204, keepAlive: false },
    });
  });

  it.each([
    ['SSH-2.0-OpenSSH_9.2\r\n\r\n', 'not an HTTP/1.x answer'],
    ['HTTP/2 204\r\n\r\n', 'not an HTTP/1.x answer'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'bad Content-Length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'bad Content-Length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n', 'more than'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'unknown Transfer-Encoding'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 'both Content-Length and chunked'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad chunk size'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', 'without CRLF after a chunk'],
    ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'header without a name'],
  ])('refuses %j (%s)', (bytes, why) => {
    expect(parse(text(bytes)).error).toContain(why);
  });

  it("reads influxd's answer to a huge bad line (the line echoed in a header and the body) holding a bounded part of the header", () => {
    const echoed = `unable to parse 'huge v=${'x'.repeat(5_000_000)}': invalid boolean`;
    const body = JSON.stringify({ error: echoed }) + '\n';
    const bytes = text(`HTTP/1.1 400 Bad Request\r\nX-Influxdb-Error: ${echoed}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65_536) pieces.push(bytes.subarray(i, i + 65_536));
    const parser = new HttpAnswerParser();
    let answer: HttpAnswer | undefined;
    for (const piece of pieces) answer = parser.push(piece) ?? answer;
    expect(answer?.status).toBe(400);
    expect(answer?.body.toString('latin1')).toBe(body);
  });

  it('bounds what it holds: header lines, a chunked body past the limit', () => {
    const parser = new HttpAnswerParser();
    parser.push(text('HTTP/1.1 200 OK\r\n'));
    expect(() => {
      for (let i = 0; i < 300; i++) parser.push(text(`X-Filler-${i}: ${'a'.repeat(100)}\r\n`));
    }).toThrow('more than 256 header lines');
    const chunked = new HttpAnswerParser();
    chunked.push(text('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    expect(() => {
      for (let i = 0; i < 40; i++) chunked.push(text(`100000\r\n${'b'.repeat(0x100000)}\r\n`));
    }).toThrow('more than');
  });

  it('reads any answer the same whatever pieces it arrives in (property)', () => {
    const header = fc.constantFrom(
      'Content-Type: application/json',
      'X-Influxdb-Version: 1.8.10',
      'Date: Mon, 07 Dec 2026 14:40:04 GMT',
      'X-Influxdb-Error: a\u0001b',
    );
    const answer = fc.record({
      status: fc.constantFrom(200, 204, 400, 401, 404, 413, 500, 503),
      headers: fc.array(header, { maxLength: 4 }),
      body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      chunked: fc.boolean(),
      chunkSize: fc.integer({ min: 1, max: 64 }),
    });
    fc.assert(
      fc.property(answer, fc.array(fc.nat(), { maxLength: 8 }), ({ status, headers, body, chunked, chunkSize }, cuts) => {
        const withBody = status !== 204;
        let framed = '';
        if (!withBody) framed = '';
        else if (chunked) {
          for (let i = 0; i < body.length; i += chunkSize) {
            const piece = body.subarray(i, i + chunkSize);
            framed += `${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`;
          }
          framed += '0\r\n\r\n';
        }
        const head = [
          `HTTP/1.1 ${status} X`,
          ...headers,
          ...(withBody ? [chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`] : []),
        ];
        const bytes = Buffer.concat([
          text(head.join('\r\n') + '\r\n\r\n'),
          withBody && chunked ? text(framed) : withBody ? body : Buffer.alloc(0),
        ]);
        const got = parse(bytes, cuts);
        expect(got.error).toBeUndefined();
        expect(got.ended).toBe(false);
        expect(got.answer?.status).toBe(status);
        expect(got.answer?.body).toEqual(withBody ? body : Buffer.alloc(0));
        expect(got.answer?.keepAlive).toBe(true);
        expect(got.answer?.version).toBe(headers.includes('X-Influxdb-Version: 1.8.10') ? '1.8.10' : undefined);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but an Error on arbitrary bytes, in any pieces (fuzz)', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.constantFrom(
            'HTTP/1.1 200 OK\r\n',
            'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
            'HTTP/1.0 400 B\r\nContent-Length: 5\r\n',
          ),
          fc.uint8Array({ maxLength: 200 }),
        )
        .map(([prefix, rest]) => Buffer.concat([text(prefix), Buffer.from(rest)])),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 6 }), (b, cuts) => {
        const parser = new HttpAnswerParser();
        try {
          let from = 0;
          for (const to of [...cuts.map((c) => c % (b.length + 1)).sort((x, y) => x - y), b.length]) {
            if (parser.push(b.subarray(from, Math.max(from, to)))) return;
            from = Math.max(from, to);
          }
          parser.end();
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
