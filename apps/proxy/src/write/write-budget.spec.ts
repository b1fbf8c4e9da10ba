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
    const a = budget.admit(fakeReq({ 'content-length': String(6 * MB) }), res(), 10 * MB, {});
    expect(a).toBeDefined();
    const r = res();
    const b = budget.admit(fakeReq({ 'content-length': String(5 * MB) }), r, 10 * MB, { 'X-Influxdb-Version': '1.8' });
    expect(b).toBeUndefined();
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body!)).toEqual({ error: WRITE_BUFFER_FULL });
    expect(r.headers).toMatchObject({ 'Retry-After': '1', 'X-Influxdb-Version': '1.8', 'X-Influxdb-Error': WRITE_BUFFER_FULL });
    // a large unread body is not read for nothing: the connection closes
    expect(r.headers).toMatchObject({ Connection: 'close' });
    expect(budget.bytes).toBe(6 * MB);
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

  it('counts a chunked body by an estimate, then by its real (or inflated) size', () => {
    const budget = new WriteBudget();
    const r = res();
    const hold = budget.admit(fakeReq({ 'transfer-encoding': 'chunked' }), r, 4 * MB, {})!;
    expect(budget.bytes).toBe(MB);
    expect(budget.resize(hold, 100, 4 * MB, fakeReq({}), r, {})).toBe(true);
    expect(budget.bytes).toBe(100);
    const other = budget.admit(fakeReq({ 'content-length': String(3 * MB) }), res(), 4 * MB, {})!;
    const r2 = res();
    expect(budget.resize(hold, 2 * MB, 4 * MB, { ...fakeReq({}), complete: true } as IncomingMessage, r2, {})).toBe(false);
    expect(r2.status).toBe(503);
    expect(r2.headers).not.toHaveProperty('Connection');
    r.emit('close');
    other.release();
    expect(budget.bytes).toBe(0);
  });
});
