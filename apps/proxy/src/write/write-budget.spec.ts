import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { WRITE_BUFFER_FULL, WriteBudget } from './write-budget';

function fakeReq(headers: Record<string, string>): IncomingMessage {
  return { headers, complete: false } as unknown as IncomingMessage;
}

class FakeRes extends EventEmitter {
  status?: number;
  headers?: OutgoingHttpHeaders;
  body?: string;
  headersSent = false;
  writeHead(status: number, headers: OutgoingHttpHeaders) {
    this.status = status;
    this.headers = headers;
    this.headersSent = true;
  }
  end(body?: string) {
    this.body = body;
  }
}

const res = () => new FakeRes() as FakeRes & ServerResponse;
const MB = 1 << 20;

describe('WriteBudget', () => {
  it('admits writes up to the cap, then answers 503 before reading the body', () => {
    const budget = new WriteBudget();
    const KB = 1024;
    const a = budget.admit(fakeReq({ 'content-length': String(600 * KB) }), res(), 1000 * KB, {});
    expect(a).toBeDefined();
    const r = res();
    const b = budget.admit(fakeReq({ 'content-length': String(500 * KB) }), r, 1000 * KB, { 'X-Influxdb-Version': '1.8' });
    expect(b).toBeUndefined();
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body!)).toEqual({ error: WRITE_BUFFER_FULL });
    expect(r.headers).toMatchObject({ 'Retry-After': '1', 'X-Influxdb-Version': '1.8', 'X-Influxdb-Error': WRITE_BUFFER_FULL });
    // a small unread body is read and discarded: the keep-alive connection stays usable
    expect(r.headers).not.toHaveProperty('Connection');
    expect(budget.bytes).toBe(600 * KB);
  });

  it('always admits one write when nothing else is held, however large', () => {
    const budget = new WriteBudget();
    expect(budget.admit(fakeReq({ 'content-length': String(20 * MB) }), res(), 1 * MB, {})).toBeDefined();
  });

  it('gives the bytes back when the batches carrying them are answered', async () => {
    const budget = new WriteBudget();
    const r = res();
    const hold = budget.admit(fakeReq({ 'content-length': '1000' }), r, MB, {})!;
    let answer!: () => void;
    hold.releaseWhen([new Promise<void>((resolve) => (answer = resolve)), Promise.resolve()]);
    r.emit('close'); // buffered mode: the client has its 204, the batch still waits
    expect(budget.bytes).toBe(1000);
    answer();
    await new Promise((resolve) => setImmediate(resolve));
    expect(budget.bytes).toBe(0);
  });

  it('gives the bytes back when the response closes before anything was queued (errors, 413, a client gone)', () => {
    const budget = new WriteBudget();
    const r = res();
    budget.admit(fakeReq({ 'content-length': '1000' }), r, MB, {});
    r.emit('close');
    r.emit('close');
    expect(budget.bytes).toBe(0);
  });

  it('charges a large or chunked body as its bytes arrive, not by what it declares', () => {
    const budget = new WriteBudget();
    const r = res();
    const slow = budget.admit(fakeReq({ 'content-length': String(22 * MB) }), r, 4 * MB, {})!;
    expect(budget.bytes).toBe(0); // declared sizes reserve nothing
    expect(slow.grow(10, 4 * MB)).toBe(true);
    const chunked = budget.admit(fakeReq({ 'transfer-encoding': 'chunked' }), res(), 4 * MB, {})!;
    expect(budget.bytes).toBe(10);
    expect(chunked.grow(3 * MB, 4 * MB)).toBe(true);
    expect(slow.grow(2 * MB, 4 * MB)).toBe(false); // others hold the rest
    expect(budget.bytes).toBe(3 * MB + 10);
    expect(budget.resize(chunked, 100, 4 * MB, fakeReq({}), res(), {})).toBe(true);
    expect(budget.bytes).toBe(110);
    r.emit('close');
    chunked.release();
    expect(budget.bytes).toBe(0);
  });

  it('lets one body grow past the cap when it is the only one held', () => {
    const budget = new WriteBudget();
    const hold = budget.admit(fakeReq({ 'content-length': String(20 * MB) }), res(), MB, {})!;
    expect(hold.grow(20 * MB, MB)).toBe(true);
  });
});
