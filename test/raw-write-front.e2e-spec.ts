/**
 * The raw write front (apps/proxy/src/http/raw-write-front.ts): small POST /write requests on plain
 * keep-alive connections are served from the socket's bytes, everything else by node:http, which
 * takes a connection over at its first request the front does not serve. Driven here over raw TCP
 * connections against a real influxd, so the bytes on the wire are what the test sees.
 */
import * as net from 'node:net';
import { request } from './support/http';
import { type Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { sleep, stopAll, waitUntil } from './support/processes';
import { type ProxyConfig, type ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'front';
let influxd: Influxd;
let proxy: ProxyProcess;

function config(port: number, proxyExtra: Record<string, unknown> = {}): ProxyConfig {
  return {
    backends: { b: { url: influxd.url, db: DB, checkInterval: 300 } },
    keymaps: { _default_: ['b'] },
    proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB, ...proxyExtra } },
  };
}

beforeAll(async () => {
  influxd = await startInfluxd();
  await influxd.createDatabase(DB);
  proxy = await startProxy({ config: config(await freePort(), { idleTimeout: 2, headersTimeout: 1, requestTimeout: 5 }) });
});

afterAll(stopAll);

/** A raw connection: send bytes, read whole HTTP answers (Content-Length bodies) in order. */
function connect(url: string) {
  const { port } = new URL(url);
  const socket = net.connect({ port: Number(port), host: '127.0.0.1' });
  socket.on('error', () => undefined);
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed = false;
  socket.on('data', (d) => {
    buffered = Buffer.concat([buffered, d]);
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  const ready = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    socket,
    ready,
    isClosed: () => closed,
    send: (data: string | Buffer) => new Promise<void>((resolve) => socket.write(data, () => resolve())),
    /** The next whole answer (head text and body), or undefined if the connection closed first. */
    async answer(timeoutMs = 5_000): Promise<{ status: number; head: string; body: string } | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end >= 0) {
          const head = buffered.toString('latin1', 0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length >= end + 4 + length) {
            const body = buffered.toString('utf8', end + 4, end + 4 + length);
            buffered = buffered.subarray(end + 4 + length);
            return { status: Number(head.slice(9, 12)), head, body };
          }
        }
        if (closed) return undefined;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no whole answer within ${timeoutMs} ms; have ${JSON.stringify(buffered.toString('latin1'))}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(left, 100));
        });
        wake = undefined;
      }
    },
  };
}

const post = (body: string, search = `db=${DB}`, extra = '') =>
  `POST /write?${search} HTTP/1.1\r\nHost: proxy\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

async function countOf(measurement: string): Promise<number> {
  const rows = await influxd.rows(`SELECT count(v) FROM "${measurement}"`, DB);
  return Number(rows[0]?.count ?? 0);
}

/** The head without what differs from answer to answer (ids, Date), for comparing two answers. */
function shape(head: string): string {
  return head.replace(/^(X-)?Request-Id: .*$/gim, '$1Request-Id: ID').replace(/^Date: .*$/gim, 'Date: D');
}

async function metricValue(series: string): Promise<number> {
  const text = (await request(`${proxy.url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

it('answers writes from many keep-alive connections and lands every point once', async () => {
  const written = 'front_many';
  const WRITES = 50;
  const clients = await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      const conn = connect(proxy.url);
      await conn.ready;
      const statuses: number[] = [];
      for (let i = 0; i < WRITES; i++) {
        await conn.send(post(`${written},c=${c} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}\n`));
        statuses.push((await conn.answer())!.status);
      }
      conn.socket.destroy();
      return statuses;
    }),
  );
  expect(clients.flat()).toEqual(Array(8 * WRITES).fill(204));
  expect(await countOf(written)).toBe(8 * WRITES);
});

it("answers byte for byte as node:http does (204, and influxd's errors), and counts the writes in /metrics", async () => {
  const fast = connect(proxy.url);
  await fast.ready;
  const before = await metricValue('influxdb_proxy_http_requests_total{endpoint="write",status="204"}');
  const frontBefore = await metricValue('influxdb_proxy_raw_front_writes_total');
  const cases = [
    post('front_shape v=1i 1700000000000000000\n'),
    post('x v=1i\n', 'db=nope'),
    post('x v=1i\n', `db=${DB}&precision=q`),
    post('bad line 1\n'),
  ];
  const fastAnswers = [];
  for (const c of cases) {
    await fast.send(c);
    fastAnswers.push((await fast.answer())!);
  }
  const frontServed = await metricValue('influxdb_proxy_raw_front_writes_total');
  expect(frontServed - frontBefore).toBe(cases.length);
  // the same requests with the client's own request id go to node:http (and stay there)
  const slow = connect(proxy.url);
  await slow.ready;
  const nodeAnswers = [];
  for (const c of cases) {
    await slow.send(c.replace('Host: proxy\r\n', 'Host: proxy\r\nX-Request-Id: mine\r\n'));
    nodeAnswers.push((await slow.answer())!);
  }
  expect(fastAnswers.map((a) => a.status)).toEqual([204, 404, 400, 400]);
  expect(fastAnswers.map((a) => shape(a.head))).toEqual(nodeAnswers.map((a) => shape(a.head)));
  expect(fastAnswers.map((a) => a.body)).toEqual(nodeAnswers.map((a) => a.body));
  expect(nodeAnswers[0].head).toMatch(/\r\nX-Request-Id: mine\r\n/);
  expect(fastAnswers[0].head).toMatch(/\r\nRequest-Id: [0-9a-f-]{36}\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
  const after = await metricValue('influxdb_proxy_http_requests_total{endpoint="write",status="204"}');
  expect(after - before).toBe(2); // one 204 each way
  expect(await metricValue('influxdb_proxy_raw_front_writes_total')).toBe(frontServed); // none of node:http's
  fast.socket.destroy();
  slow.socket.destroy();
});

it('hands a connection to node:http at its first other request, with the bytes it has, and keeps answering in order', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  await conn.send(post('front_mixed v=1i 1700000000000000001\n'));
  expect((await conn.answer())!.status).toBe(204);
  // a query: node:http from here on
  await conn.send(`GET /query?db=${DB}&q=${encodeURIComponent('SELECT count(v) FROM front_mixed')} HTTP/1.1\r\nHost: proxy\r\n\r\n`);
  const query = (await conn.answer())!;
  expect(query.status).toBe(200);
  expect(JSON.parse(query.body).results[0].series[0].values[0][1]).toBe(1);
  // writes go on being answered on the same connection
  await conn.send(post('front_mixed v=2i 1700000000000000002\n'));
  expect((await conn.answer())!.status).toBe(204);
  expect(await countOf('front_mixed')).toBe(2);
  conn.socket.destroy();
});

it('answers pipelined requests in order, writes and then a query in one send', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  const q = `GET /query?db=${DB}&q=${encodeURIComponent('SELECT count(v) FROM front_piped')} HTTP/1.1\r\nHost: proxy\r\n\r\n`;
  await conn.send(
    post('front_piped v=1i 1700000000000000001\n') + post('front_piped v=2i 1700000000000000002\n') + post('no db\n', '') + q,
  );
  const answers = [await conn.answer(), await conn.answer(), await conn.answer(), await conn.answer()];
  expect(answers.map((a) => a!.status)).toEqual([204, 204, 400, 200]);
  expect(answers[2]!.body).toBe('{"error":"database is required"}\n');
  expect(JSON.parse(answers[3]!.body).results[0].series[0].values[0][1]).toBe(2);
  conn.socket.destroy();
});

it('serves a request whose head or body arrives in pieces (a head in pieces goes to node:http)', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  const whole = post('front_pieces v=1i 1700000000000000001\n');
  await conn.send(whole.slice(0, 25));
  await sleep(100);
  await conn.send(whole.slice(25));
  expect((await conn.answer())!.status).toBe(204);
  const second = post('front_pieces v=2i 1700000000000000002\n');
  const bodyAt = second.indexOf('\r\n\r\n') + 4;
  await conn.send(second.slice(0, bodyAt + 5));
  await sleep(100);
  await conn.send(second.slice(bodyAt + 5));
  expect((await conn.answer())!.status).toBe(204);
  expect(await countOf('front_pieces')).toBe(2);
  conn.socket.destroy();
});

it('reads a body that arrives in pieces itself, and serves the request pipelined right after it', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  const lines = Array.from({ length: 3000 }, (_, i) => `front_big,host=h${i % 10} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}\n`);
  const first = post(lines.join(''));
  const second = post('front_big_next v=1i 1700000000000000001\n');
  const frontBefore = await metricValue('influxdb_proxy_raw_front_writes_total');
  const bodyAt = first.indexOf('\r\n\r\n') + 4;
  await conn.send(first.slice(0, bodyAt + 1_000));
  await sleep(50);
  await conn.send(first.slice(bodyAt + 1_000, -1_000));
  await sleep(50);
  // the body's last bytes and the next request in one (short) send
  await conn.send(first.slice(-1_000) + second);
  expect((await conn.answer())!.status).toBe(204);
  expect((await conn.answer())!.status).toBe(204);
  expect(await countOf('front_big')).toBe(3000);
  expect(await countOf('front_big_next')).toBe(1);
  // both served here, not by node:http
  expect(await metricValue('influxdb_proxy_raw_front_writes_total')).toBe(frontBefore + 2);
  conn.socket.destroy();
});

it('serves pipelined writes of many sizes whatever the reads they arrive in', async () => {
  // a seeded generator: the same cuts on every run
  let seed = 17;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const sizes = Array.from({ length: 20 }, () => 1 + next(4_000));
  let point = 0;
  const stream = sizes
    .map((lines) =>
      post(Array.from({ length: lines }, () => `front_cuts v=${point}i ${1_700_000_000_000_000_000n + BigInt(point++)}\n`).join('')),
    )
    .join('');
  const cuts = [...new Set(Array.from({ length: 60 }, () => next(stream.length)))].sort((a, b) => a - b);
  const frontBefore = await metricValue('influxdb_proxy_raw_front_writes_total');
  const conn = connect(proxy.url);
  await conn.ready;
  let from = 0;
  for (const at of [...cuts, stream.length]) {
    await conn.send(stream.slice(from, at));
    from = at;
    await sleep(2);
  }
  const statuses: number[] = [];
  for (let i = 0; i < sizes.length; i++) statuses.push((await conn.answer(10_000))!.status);
  expect(statuses).toEqual(Array(sizes.length).fill(204));
  expect(await countOf('front_cuts')).toBe(point);
  // the front reads at least the first; a later head cut in two (by a cut here or by the socket's reads)
  // sends the connection to node:http, which serves the rest
  expect(await metricValue('influxdb_proxy_raw_front_writes_total')).toBeGreaterThan(frontBefore);
  conn.socket.destroy();
});

it("answers node's 408 and closes the connection when a body stops arriving, past requestTimeout", async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  const started = Date.now();
  await conn.send(`POST /write?db=${DB} HTTP/1.1\r\nHost: proxy\r\nContent-Length: 5000\r\n\r\nfront_stalled v=1i 17`);
  const answer = await conn.answer(10_000);
  // requestTimeout 5 s here, checked every 250 ms
  expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
  expect(answer).toMatchObject({ status: 408 });
  expect(answer!.head).toMatch(/\r\nConnection: close/i);
  await waitUntil(async () => conn.isClosed(), { attempts: 20, intervalMs: 100, what: 'the connection closed' });
  // its request slot and budget came back: the next write is answered
  const next = connect(proxy.url);
  await next.ready;
  await next.send(post('front_stalled v=2i 1700000000000000002\n'));
  expect((await next.answer())!.status).toBe(204);
  expect(await countOf('front_stalled')).toBe(1);
  next.socket.destroy();
});

it('leaves what it does not serve to node:http: gzip, chunked, HTTP errors', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  const line = 'front_other v=1i 1700000000000000001\n';
  await conn.send(
    `POST /write?db=${DB} HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n${line.length.toString(16)}\r\n${line}\r\n0\r\n\r\n`,
  );
  expect((await conn.answer())!.status).toBe(204);
  const bad = connect(proxy.url);
  await bad.ready;
  await bad.send('POST /write HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'); // node's parser refuses it
  expect((await bad.answer())!.status).toBe(400);
  expect(await countOf('front_other')).toBe(1);
  conn.socket.destroy();
  bad.socket.destroy();
});

it('closes an idle keep-alive connection after idleTimeout, and answers 408 to one that never sends a request', async () => {
  const idle = connect(proxy.url);
  const silent = connect(proxy.url);
  await Promise.all([idle.ready, silent.ready]);
  await idle.send(post('front_idle v=1i 1700000000000000001\n'));
  expect((await idle.answer())!.status).toBe(204);
  const started = Date.now();
  await waitUntil(async () => idle.isClosed() && silent.isClosed(), { attempts: 60, intervalMs: 100, what: 'both connections closed' });
  // idleTimeout 2 s, headersTimeout 1 s, checked every 250 ms
  expect(Date.now() - started).toBeLessThan(4_000);
  expect(await silent.answer()).toMatchObject({ status: 408 });
});

it('on SIGTERM closes its idle connections and exits at once', async () => {
  const p = await startProxy({ config: config(await freePort()) });
  const conns = Array.from({ length: 5 }, () => connect(p.url));
  await Promise.all(conns.map((c) => c.ready));
  for (const [i, c] of conns.entries()) {
    await c.send(post(`front_term v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}\n`));
    expect((await c.answer())!.status).toBe(204);
  }
  const started = Date.now();
  expect(await p.stop()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(conns.every((c) => c.isClosed())).toBe(true);
  expect(await countOf('front_term')).toBe(5);
});

it('answers a write whose client half-closes after sending it, then closes the connection', async () => {
  const conn = connect(proxy.url);
  await conn.ready;
  conn.socket.end(post('front_halfclose v=1i 1700000000000000001\n'));
  expect((await conn.answer())!.status).toBe(204);
  // at once, not after idleTimeout (2 s here)
  await waitUntil(async () => conn.isClosed(), { attempts: 10, intervalMs: 100, what: 'the connection closed within 1 s' });
  expect(await countOf('front_halfclose')).toBe(1);
});
