/** One HTTP/1.x answer read whole: what a write needs of it. */
export interface HttpAnswer {
  readonly status: number;
  /** The body, de-chunked (empty for 204 and 304). */
  readonly body: Buffer;
  /** X-Influxdb-Version, when the answer carried one. */
  readonly version?: string;
  /** false when the connection cannot carry another request (Connection: close, HTTP/1.0, a body read to the end). */
  readonly keepAlive: boolean;
}

/** Longest status line and headers read (what is kept of them is bounded by MAX_LINE_BYTES and MAX_HEADERS). */
const MAX_HEAD_BYTES = 64 * 1024 * 1024;
/** Bytes kept of one head line. */
const MAX_LINE_BYTES = 8 * 1024;
const MAX_HEADERS = 256;
/**
 * Largest body accepted: influxd answers a write in a few hundred bytes, but its parse error echoes
 * the refused line, which its 25 MB body limit bounds.
 */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

const CR = 13;
const LF = 10;

type BodyMode = 'length' | 'chunked' | 'close';

/**
 * Reads one HTTP/1.x answer from the bytes a socket delivers, in whatever pieces they come. Lenient
 * where influxd needs it (a header value may hold control characters: influxd echoes the offending
 * line in X-Influxdb-Error), strict where a wrong guess could mix two answers (a framing it cannot
 * read is an error, and the connection is not used again). Interim 1xx answers are skipped.
 */
export class HttpAnswerParser {
  private headLines: string[] = [];
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  private headBytes = 0;
  private headerEnd = -1;
  private status = 0;
  private version: string | undefined;
  private keepAlive = true;
  private mode: BodyMode = 'length';
  private remaining = 0;
  private parts: Buffer[] = [];
  private bodyBytes = 0;
  /** Chunked framing: reading a size line, the data, the CRLF after it, or the trailers. */
  private chunkState: 'size' | 'data' | 'data-end' | 'trailers' = 'size';
  private line: Buffer | undefined;
  /** Bytes received after the answer ended (a server that answered twice): the connection is not reused. */
  extra = false;
  /** True once any byte of an answer has arrived. */
  started = false;

  /**
   * Takes the next bytes. Returns the answer once it is whole, else undefined. Throws an Error with a
   * clear message on bytes that are not an HTTP/1.x answer.
   */
  push(data: Buffer): HttpAnswer | undefined {
    if (data.length > 0) this.started = true;
    let rest = data;
    while (this.headerEnd < 0) {
      const after = this.readHead(rest);
      if (after === undefined) return undefined;
      rest = after;
      if (this.status >= 200) break;
      // an interim answer (100 Continue): the real one follows
      this.resetHead();
    }
    return this.readBody(rest);
  }

  /** The connection ended: the answer, when its body runs to the end of the connection; else undefined. */
  end(): HttpAnswer | undefined {
    if (this.headerEnd >= 0 && this.mode === 'close') {
      this.keepAlive = false;
      return this.answer();
    }
    return undefined;
  }

  /**
   * Reads status line and headers a line at a time; returns the bytes after them, or undefined while
   * incomplete. Each line is kept up to MAX_LINE_BYTES: influxd echoes a refused line (up to its
   * 25 MB body limit) in X-Influxdb-Error, which no answer needs whole.
   */
  private readHead(data: Buffer): Buffer | undefined {
    let at = 0;
    while (at < data.length) {
      const lf = data.indexOf(LF, at);
      const end = lf < 0 ? data.length : lf;
      const room = MAX_LINE_BYTES - this.lineBytes;
      if (room > 0 && end > at) this.lineParts.push(data.subarray(at, Math.min(end, at + room)));
      this.lineBytes += end - at;
      this.headBytes += end - at + (lf < 0 ? 0 : 1);
      if (this.headBytes > MAX_HEAD_BYTES) throw new Error(`answer head longer than ${MAX_HEAD_BYTES} bytes`);
      if (lf < 0) return undefined;
      at = lf + 1;
      const kept = this.lineParts.length === 1 ? this.lineParts[0] : Buffer.concat(this.lineParts);
      let line = kept.toString('latin1');
      if (this.lineBytes <= MAX_LINE_BYTES && line.endsWith('\r')) line = line.slice(0, -1);
      this.lineParts = [];
      this.lineBytes = 0;
      if (line === '') {
        if (this.headLines.length === 0) continue; // a stray CRLF before the status line
        this.parseHead(this.headLines);
        this.headLines = [];
        this.headerEnd = this.headBytes;
        return data.subarray(at);
      }
      if (this.headLines.length >= MAX_HEADERS) throw new Error(`answer with more than ${MAX_HEADERS} header lines`);
      this.headLines.push(line);
    }
    return undefined;
  }

  private parseHead(lines: string[]): void {
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!status) throw new Error(`not an HTTP/1.x answer: ${JSON.stringify(lines[0].slice(0, 80))}`);
    this.status = Number(status[2]);
    const http10 = status[1] === '0';
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`answer header without a name: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
          throw new Error(`answer with a bad Content-Length: ${JSON.stringify(value)}`);
        }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        if (value.toLowerCase() !== 'chunked') throw new Error(`answer with an unknown Transfer-Encoding: ${JSON.stringify(value)}`);
        chunked = true;
      } else if (name === 'connection') {
        connection = value.toLowerCase();
      } else if (name === 'x-influxdb-version' && value) {
        this.version = value;
      }
    }
    this.keepAlive = http10 ? connection === 'keep-alive' : connection !== 'close';
    if (this.status === 204 || this.status === 304) {
      this.mode = 'length';
      this.remaining = 0;
    } else if (chunked) {
      if (length !== undefined) throw new Error('answer with both Content-Length and chunked Transfer-Encoding');
      this.mode = 'chunked';
    } else if (length !== undefined) {
      if (length > MAX_BODY_BYTES) throw new Error(`answer body of ${length} bytes, more than ${MAX_BODY_BYTES}`);
      this.mode = 'length';
      this.remaining = length;
    } else {
      this.mode = 'close';
      this.keepAlive = false;
    }
  }

  /** Reads body bytes; returns the answer once it is whole. */
  private readBody(data: Buffer): HttpAnswer | undefined {
    if (this.mode === 'length') {
      const take = Math.min(this.remaining, data.length);
      if (take > 0) this.addBody(data.subarray(0, take));
      this.remaining -= take;
      if (this.remaining > 0) return undefined;
      return this.finish(data.subarray(take));
    }
    if (this.mode === 'close') {
      this.addBody(data);
      return undefined;
    }
    return this.readChunked(data);
  }

  private readChunked(data: Buffer): HttpAnswer | undefined {
    let at = 0;
    while (at < data.length) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, data.length - at);
        this.addBody(data.subarray(at, at + take));
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.chunkState = 'data-end';
        continue;
      }
      const lf = data.indexOf(LF, at);
      const piece = data.subarray(at, lf < 0 ? data.length : lf + 1);
      at += piece.length;
      const line: Buffer = this.line ? Buffer.concat([this.line, piece]) : piece;
      if (lf < 0) {
        if (line.length > 4096) throw new Error('chunked answer with a line longer than 4096 bytes');
        this.line = line;
        continue;
      }
      this.line = undefined;
      const end = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
      const text = line.toString('latin1', 0, end);
      if (this.chunkState === 'data-end') {
        if (text !== '') throw new Error('chunked answer without CRLF after a chunk');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const size = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(text);
        if (!size) throw new Error(`chunked answer with a bad chunk size: ${JSON.stringify(text.slice(0, 40))}`);
        this.remaining = parseInt(size[1], 16);
        if (this.bodyBytes + this.remaining > MAX_BODY_BYTES) throw new Error(`answer body of more than ${MAX_BODY_BYTES} bytes`);
        this.chunkState = this.remaining === 0 ? 'trailers' : 'data';
      } else if (text === '') {
        // the empty line after the trailers: the answer is whole
        return this.finish(data.subarray(at));
      }
    }
    return undefined;
  }

  private addBody(piece: Buffer): void {
    this.bodyBytes += piece.length;
    if (this.bodyBytes > MAX_BODY_BYTES) throw new Error(`answer body of more than ${MAX_BODY_BYTES} bytes`);
    this.parts.push(piece);
  }

  private finish(after: Buffer): HttpAnswer {
    if (after.length > 0) {
      this.extra = true;
      this.keepAlive = false;
    }
    return this.answer();
  }

  private answer(): HttpAnswer {
    const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bodyBytes);
    return { status: this.status, body, version: this.version, keepAlive: this.keepAlive };
  }

  private resetHead(): void {
    this.headerEnd = -1;
    this.headBytes = 0;
    this.status = 0;
    this.version = undefined;
  }
}
