/**
 * An HTTP pass-through in front of a real influxd that remembers every /write it forwarded: when it
 * began and ended, the answer, and the points in it (timestamps and `src` tags). Tests use it to see
 * what reached a backend and from whom — e.g. that two proxies never replayed to it at the same time,
 * and that every point was delivered exactly once. When influxd is down it answers 503.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { track, untrack } from './processes';

export interface ForwardedWrite {
  /** Local ms when the request arrived and when its answer was sent. */
  start: number;
  end: number;
  /** influxd's answer (503 when influxd could not be reached). */
  status: number;
  measurements: string[];
  /** The `src` tag values of its lines. */
  sources: string[];
  /** Each line's timestamp. */
  stamps: bigint[];
}

export interface CountingProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly writes: ForwardedWrite[];
  stop(): Promise<void>;
}

export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const writes: ForwardedWrite[] = [];
  const server = http.createServer((req, res) => {
    const start = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const answer = (status: number, headers: http.OutgoingHttpHeaders, payload: Buffer) => {
        res.writeHead(status, headers);
        res.end(payload);
        if (req.method === 'POST' && req.url?.startsWith('/write')) writes.push({ start, end: Date.now(), status, ...parseLines(body) });
      };
      const headers = { ...req.headers, host: target.host };
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => answer(up.statusCode ?? 502, up.headers, Buffer.concat(parts)));
        up.on('error', (err) => answer(503, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ error: err.message }))));
      });
      out.on('error', (err) => {
        if (res.headersSent) return;
        answer(503, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ error: `upstream: ${err.message}` })));
      });
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  const handle: CountingProxy = {
    url: `http://127.0.0.1:${port}`,
    writes,
    async stop() {
      if (stopped) return;
      stopped = true;
      untrack(handle);
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(handle);
  return handle;
}

/** Line protocol as the tests write it: `measurement,src=p1 v=1i <timestamp>`. */
function parseLines(body: Buffer): Pick<ForwardedWrite, 'measurements' | 'sources' | 'stamps'> {
  const measurements = new Set<string>();
  const sources = new Set<string>();
  const stamps: bigint[] = [];
  for (const line of body.toString('utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([^, ]+)/.exec(line);
    if (m) measurements.add(m[1]);
    const src = /,src=([^, ]+)/.exec(line);
    if (src) sources.add(src[1]);
    const ts = line.slice(line.lastIndexOf(' ') + 1);
    if (/^\d+$/.test(ts)) stamps.push(BigInt(ts));
  }
  return { measurements: [...measurements], sources: [...sources], stamps };
}
