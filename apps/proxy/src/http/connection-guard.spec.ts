import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { type ConnectionDropReason, ConnectionGuard, EpisodeLog } from './connection-guard';

const quietLogger = () => {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) } as never };
};

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ConnectionGuard (plain HTTP on loopback)', () => {
  let server: http.Server;
  let guard: ConnectionGuard;
  let port: number;
  const dropped: ConnectionDropReason[] = [];
  const clients: net.Socket[] = [];
  /** Set by a test to hold requests unanswered. */
  let held: http.ServerResponse[] | undefined;

  beforeEach(async () => {
    dropped.length = 0;
    held = undefined;
    server = http.createServer((_req, res) => (held ? held.push(res) : res.end('ok')));
    guard = new ConnectionGuard(
      false,
      () => ({ maxPerAddress: 3, handshakeMs: 1_000 }),
      { opened: () => undefined, closed: () => undefined, dropped: (r) => dropped.push(r), acceptFailed: () => undefined },
      quietLogger().logger,
    );
    guard.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function connect(): { socket: net.Socket; closed: () => boolean } {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    clients.push(socket);
    let closed = false;
    socket.on('close', () => (closed = true));
    return { socket, closed: () => closed };
  }

  it('closes connections past maxPerAddress at once and counts them; a freed place is taken again', async () => {
    const conns = Array.from({ length: 5 }, () => connect());
    await until(() => conns.filter((c) => c.closed()).length === 2, 'two closed');
    expect(guard.size).toBe(3);
    expect(dropped).toEqual(['address_cap', 'address_cap']);
    conns.find((c) => !c.closed())!.socket.destroy();
    await until(() => guard.size === 2, 'one fewer');
    const again = connect();
    await until(() => guard.size === 3, 'taken again');
    expect(again.closed()).toBe(false);
  });

  it('at shutdown destroys connections that never brought a request, and leaves a request in flight', async () => {
    const requests: http.ServerResponse[] = [];
    held = requests;
    const silent = connect();
    const busy = connect();
    busy.socket.write(`GET / HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => requests.length === 1, 'the request');
    guard.beginShutdown();
    await until(() => silent.closed(), 'the silent one closed');
    expect(busy.closed()).toBe(false);
    expect(dropped).toEqual(['shutdown']);
    guard.destroyAll();
    await until(() => busy.closed(), 'the busy one closed past the drain');
  });
});

describe('EpisodeLog', () => {
  it('logs the first of an episode at once and the totals once it is quiet', async () => {
    const { lines, logger } = quietLogger();
    let now = 0;
    const log = new EpisodeLog(logger, 'things refused', 40, () => now);
    for (let i = 0; i < 50; i++) log.note(`10.0.0.${i % 3}`);
    expect(lines).toEqual(['things refused (first from 10.0.0.0); counting until 0.04 s pass without one']);
    now = 1_000;
    await until(() => lines.length === 2, 'the summary');
    expect(lines[1]).toBe('things refused: 50 over 0 s from 3 source(s): 10.0.0.0, 10.0.0.1, 10.0.0.2; episode over');
    expect(log.active).toBe(false);
  });
});
