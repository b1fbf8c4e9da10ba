import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { type RelayOutcome, StreamRelay } from './stream-relay';

/**
 * The relay's HTTP mechanics between two real sockets: an upstream node:http server answering the way
 * the test says (whole, in pieces, 5xx, cut), a real undici Pool, and a client-facing server whose
 * answer the test reads raw.
 */
type Upstream = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const pools: Pool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<number> {
  // a handler that rejects (a relay bug) cuts its answer, so the case fails at once instead of waiting for a timeout
  const server = createServer((req, res) => void Promise.resolve(handler(req, res)).catch((err: Error) => res.destroy(err)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A front server relaying each request to `upstreams` in turn; resolves the outcomes of the attempts. */
async function front(upstreams: Upstream[], outcomes: RelayOutcome[][], broken: unknown[] = []): Promise<number> {
  const origins = await Promise.all(upstreams.map((u) => listen(u)));
  const clients = origins.map((port) => {
    const pool = new Pool(`http://127.0.0.1:${port}`);
    pools.push(pool);
    return pool;
  });
  return listen(async (_req, res) => {
    const seen: RelayOutcome[] = [];
    outcomes.push(seen);
    const relay = new StreamRelay(
      res,
      (_status, up) => ({ 'Content-Type': up['content-type'] ?? 'application/json' }),
      (err) => broken.push(err),
    );
    for (const pool of clients) {
      const outcome: RelayOutcome = await relay.attempt((handler) =>
        pool.dispatch({ path: '/query', method: 'GET', bodyTimeout: 2_000, headersTimeout: 2_000 } as never, handler),
      );
      seen.push(outcome);
      if (outcome.kind !== 'failed') return;
    }
    res.writeHead(503);
    res.end('none');
  });
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  error?: string;
}

function get(port: number): Promise<Raw> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, error: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: '', error: err.message }));
    req.end();
  });
}

describe('StreamRelay', () => {
  it('sends an answer that came in one read in one write with a Content-Length', async () => {
    const outcomes: RelayOutcome[][] = [];
    const port = await front([(_q, r) => r.end('{"results":[{"statement_id":0}]}\n')], outcomes);
    const res = await get(port);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String('{"results":[{"statement_id":0}]}\n'.length));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.body).toBe('{"results":[{"statement_id":0}]}\n');
    expect(outcomes[0]).toEqual([{ kind: 'answered' }]);
  });

  it('streams an answer that comes in pieces: the first piece reaches the client before the backend is done', async () => {
    let finish!: () => void;
    const more = new Promise<void>((r) => (finish = r));
    const port = await front(
      [
        (_q, r) => {
          r.writeHead(200, { 'Content-Type': 'application/json' });
          r.write('{"a":1}\n');
          void more.then(() => r.end('{"b":2}\n'));
        },
      ],
      [],
    );
    const firstPiece = new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        expect(res.headers['transfer-encoding']).toBe('chunked');
        let body = '';
        res.setEncoding('utf8');
        res.once('data', (c) => {
          body += c;
          resolve(body);
          finish(); // only now does the backend send the rest
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(await firstPiece).toBe('{"a":1}\n');
  });

  it('moves on from a 5xx (keeping its text for the failure) and from a backend that cuts the connection before any data', async () => {
    const outcomes: RelayOutcome[][] = [];
    const port = await front(
      [
        (_q, r) => {
          r.writeHead(500, { 'Content-Type': 'application/json' });
          r.end('{"error":"boom"}');
        },
        (q) => q.socket.destroy(),
        (_q, r) => r.end('ok'),
      ],
      outcomes,
    );
    const res = await get(port);
    expect(res.body).toBe('ok');
    expect(outcomes[0][0]).toEqual({ kind: 'failed', status: 500, body: '{"error":"boom"}' });
    expect(outcomes[0][1].kind).toBe('failed');
    expect('error' in outcomes[0][1]).toBe(true);
    expect(outcomes[0][2]).toEqual({ kind: 'answered' });
  });

  it('cuts the client’s connection when the backend breaks after the answer was committed', async () => {
    const broken: unknown[] = [];
    const port = await front(
      [
        (_q, r) => {
          r.writeHead(200, { 'Content-Type': 'application/json' });
          r.write('{"partial":');
          setTimeout(() => r.socket?.destroy(), 50);
        },
      ],
      [],
      broken,
    );
    const res = await get(port);
    expect(res.body).toBe('{"partial":');
    expect(res.error).toBeDefined(); // the client sees a cut answer, never a complete-looking one
    expect(broken).toHaveLength(1);
  });

  it('aborts the backend request when the client goes away', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const outcomes: RelayOutcome[][] = [];
    const port = await front(
      [
        (q, r) => {
          r.writeHead(200);
          r.write('x');
          q.socket.on('close', () => upstreamClosed());
        },
      ],
      outcomes,
    );
    const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => res.once('data', () => req.destroy()));
    req.on('error', () => undefined);
    req.end();
    await closed; // the relay aborted its request: undici closed the backend socket
  });
});
