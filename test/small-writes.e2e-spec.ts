/**
 * Small writes: a batch that gathered many clients' one-point requests leaves for its backend in one
 * socket write, not one write (one syscall, one TCP segment) per request's part. The backend here is
 * a raw TCP server in its own process that counts the reads each HTTP request took to arrive: one
 * write on loopback arrives in one read; a part per write arrives in many.
 */
import { backendConfigOf } from './support/config-rules';
import { BackendClient, type Batch } from '@app/backend';
import type { BackendConfig } from '@app/config';
import { freePort } from './support/ports';
import { type ManagedProcess, spawnManaged, stopAll, terminate, waitUntil } from './support/processes';

/** Answers every request 204 and prints, per request, how many reads its head and body took. */
const READ_COUNTER = `
const net = require('node:net');
const server = net.createServer((socket) => {
  let pending = Buffer.alloc(0);
  let reads = 0;
  socket.on('data', (data) => {
    reads++;
    pending = Buffer.concat([pending, data]);
    for (;;) {
      const headEnd = pending.indexOf('\\r\\n\\r\\n');
      if (headEnd < 0) return;
      const head = pending.subarray(0, headEnd).toString('latin1');
      const length = Number((/content-length: *(\\d+)/i.exec(head) || [0, 0])[1]);
      const total = headEnd + 4 + length;
      if (pending.length < total) return;
      const body = pending.subarray(headEnd + 4, total).toString('latin1');
      console.log('REQ ' + JSON.stringify({ reads, bytes: length, lines: body.split('\\n').length - 1, head: head.split('\\r\\n')[0] }));
      pending = pending.subarray(total);
      reads = pending.length > 0 ? 1 : 0;
      socket.write('HTTP/1.1 204 No Content\\r\\nX-Influxdb-Version: 1.6.7\\r\\n\\r\\n');
    }
  });
});
server.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('LISTENING'));
`;

interface Seen {
  reads: number;
  bytes: number;
  lines: number;
  head: string;
}

function seenRequests(proc: ManagedProcess): Seen[] {
  return proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('REQ '))
    .map((l) => JSON.parse(l.slice(4)) as Seen);
}

function backendConfig(url: string): BackendConfig {
  return backendConfigOf({ url, db: 'small', timeoutQuery: 30_000, concurrency: 1 });
}

let server: ManagedProcess;
let client: BackendClient | undefined;

beforeAll(async () => {
  const port = await freePort();
  server = spawnManaged('read-counter', process.execPath, ['-e', READ_COUNTER, String(port)]);
  await waitUntil(async () => server.output().includes('LISTENING'), {
    attempts: 100,
    intervalMs: 100,
    what: 'the read counter to listen',
  });
  client = new BackendClient('counted', backendConfig(`http://127.0.0.1:${port}`));
});

afterAll(async () => {
  await client?.close();
  if (server) await terminate(server);
  await stopAll();
});

it('sends a batch of 200 one-point parts in one socket write', async () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < 200; i++) chunks.push(Buffer.from(`cpu,host=h${i % 10} v=${i}i ${1700000000000000000 + i}\n`));
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const batch: Batch = { rp: '', precision: '', chunks, chunkLines: chunks.map(() => 1), bytes, lines: chunks.length };
  for (let round = 0; round < 5; round++) {
    const outcome = await client!.write(batch);
    expect(outcome.kind).toBe('ok');
  }
  const seen = await waitUntil(async () => (seenRequests(server).length >= 5 ? seenRequests(server) : undefined), {
    attempts: 100,
    intervalMs: 100,
    what: 'the read counter to report 5 requests',
  });
  for (const s of seen) {
    expect(s).toMatchObject({ bytes, lines: 200, head: 'POST /write?db=small HTTP/1.1' });
  }
  // a part per write arrives in as many reads as the reader happens to catch; one write, in one
  expect(seen.map((s) => s.reads)).toEqual([1, 1, 1, 1, 1]);
});
