/**
 * WriteLane, the keep-alive sockets that carry every batch to a backend's /write, against servers
 * that misbehave on purpose (plain TCP servers answering scripted bytes): it reuses a connection,
 * sends a write again when the server had closed the idle connection it picked, never sends one twice
 * otherwise, gives up on silence after its timeout, reports a refused connection, and closes cleanly.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { WriteLane } from '@app/backend/write-lane';
import { freePort } from './support/ports';

const HEAD = (port: number, length: number) =>
  `POST /write?db=x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${length}\r\n\r\n`;
const BODY = Buffer.from('m v=1\n');

interface Scripted {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Request bodies received (one per request, in order). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A TCP server that reads each request (head + Content-Length body) and calls `answer` with the
 * socket and the request's index: it writes what it likes, or nothing.
 */
async function scripted(answer: (socket: net.Socket, index: number) => void): Promise<Scripted> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: [] as string[] };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.toString('latin1', 0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        state.requests.push(pending.toString('latin1', end + 4, end + 4 + length));
        pending = pending.subarray(end + 4 + length);
        answer(socket, state.requests.length - 1);
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const lane = (port: number, timeoutMs = 5_000) => new WriteLane({ host: '127.0.0.1', port, connectTimeoutMs: timeoutMs, maxIdle: 4 });
const NO_CONTENT = 'HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8.10\r\n\r\n';

describe('WriteLane', () => {
  it('sends writes one after another over one kept-alive connection, and a burst over several', async () => {
    const server = await scripted((socket) => socket.write(NO_CONTENT));
    const l = lane(server.port);
    try {
      for (let i = 0; i < 5; i++)
        expect(await l.post(HEAD(server.port, BODY.length), BODY, 5_000)).toMatchObject({ status: 204, version: '1.8.10' });
      expect(server.connections).toBe(1);
      const answers = await Promise.all(
        Array.from({ length: 3 }, () => l.post(HEAD(server.port, BODY.length), [BODY.subarray(0, 2), BODY.subarray(2)], 5_000)),
      );
      expect(answers.map((a) => a.status)).toEqual([204, 204, 204]);
      expect(server.connections).toBe(3);
      expect(server.requests).toEqual(Array(8).fill('m v=1\n'));
    } finally {
      await l.close();
      await server.close();
    }
  });

  it('sends a write again on a new connection when the idle one it picked had been closed by the server, and only then', async () => {
    // the first connection answers once, then closes as the second write arrives (its idle timeout
    // crossing that write): the write goes again on a new connection and is answered there
    const server = await scripted((socket, i) => (i === 1 ? socket.destroy() : socket.write(NO_CONTENT)));
    const l = lane(server.port);
    try {
      expect((await l.post(HEAD(server.port, BODY.length), BODY, 5_000)).status).toBe(204);
      expect((await l.post(HEAD(server.port, BODY.length), BODY, 5_000)).status).toBe(204);
      expect(server.connections).toBe(2);
      expect(server.requests).toHaveLength(3);
    } finally {
      await l.close();
      await server.close();
    }
    // a fresh connection closed after the request arrived: that is the answer (no second send)
    const rude = await scripted((socket) => socket.destroy());
    const r = lane(rude.port);
    try {
      await expect(r.post(HEAD(rude.port, BODY.length), BODY, 5_000)).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(rude.requests).toHaveLength(1);
    } finally {
      await r.close();
      await rude.close();
    }
  });

  it('gives up on a server that does not answer after its timeout, and on one that is not there', async () => {
    const silent = await scripted(() => undefined);
    const l = lane(silent.port);
    try {
      const started = Date.now();
      await expect(l.post(HEAD(silent.port, BODY.length), BODY, 300)).rejects.toMatchObject({
        code: 'ETIMEDOUT',
        message: 'no answer within 300 ms',
      });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await l.close();
      await silent.close();
    }
    const port = await freePort();
    await expect(lane(port).post(HEAD(port, BODY.length), BODY, 1_000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('reads an answer sent a byte at a time, and does not reuse a connection that answered garbage', async () => {
    const slow = await scripted((socket, i) => {
      const bytes = Buffer.from(i === 0 ? 'HTTP/1.1 400 Bad Request\r\nContent-Length: 15\r\n\r\n{"error":"bad"}' : 'garbage\r\n\r\n');
      let at = 0;
      const next = () => {
        if (at < bytes.length) socket.write(bytes.subarray(at, ++at), () => setImmediate(next));
      };
      next();
    });
    const l = lane(slow.port);
    try {
      const answer = await l.post(HEAD(slow.port, BODY.length), BODY, 5_000);
      expect([answer.status, answer.body.toString()]).toEqual([400, '{"error":"bad"}']);
      await expect(l.post(HEAD(slow.port, BODY.length), BODY, 5_000)).rejects.toThrow('not an HTTP/1.x answer: "garbage"');
      expect(slow.connections).toBe(1);
      await l.post(HEAD(slow.port, BODY.length), BODY, 300).catch(() => undefined);
      expect(slow.connections).toBe(2);
    } finally {
      await l.close();
      await slow.close();
    }
  });

  it('does not keep a process alive with its idle connections (a CLI run ends when its work does)', async () => {
    const server = await scripted((socket) => socket.write(NO_CONTENT));
    try {
      const built = path.join(__dirname, '..', 'dist', 'apps', 'proxy', 'libs', 'backend', 'src', 'write-lane.js');
      const script = `const { WriteLane } = require(${JSON.stringify(built)});
        const l = new WriteLane({ host: '127.0.0.1', port: ${server.port}, connectTimeoutMs: 2000, maxIdle: 4 });
        l.post(${JSON.stringify(HEAD(server.port, BODY.length))}, Buffer.from('m v=1\\n'), 2000).then((a) => console.log(a.status));`;
      const child = await new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
        const started = Date.now();
        const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d));
        const killer = setTimeout(() => p.kill('SIGKILL'), 10_000);
        p.on('exit', (code) => {
          clearTimeout(killer);
          resolve({ code, out, ms: Date.now() - started });
        });
      });
      expect(child.out.trim()).toBe('204');
      expect(child.code).toBe(0);
      expect(child.ms).toBeLessThan(5_000);
      expect(server.connections).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('closes after the writes in flight are answered, and refuses new ones', async () => {
    const late = await scripted((socket) => setTimeout(() => socket.write(NO_CONTENT), 200));
    const l = lane(late.port);
    try {
      const inFlight = l.post(HEAD(late.port, BODY.length), BODY, 5_000);
      await new Promise((r) => setTimeout(r, 50));
      const closed = l.close();
      await expect(l.post(HEAD(late.port, BODY.length), BODY, 5_000)).rejects.toThrow('backend client closed');
      expect((await inFlight).status).toBe(204);
      await closed;
    } finally {
      await late.close();
    }
  });
});
