import { BackendClient } from '@app/backend';
import { PRODUCT_CONFIG_RULES } from '@app/cli/config-rules';
import { parseClusterConfig } from '@app/config';
import type { MsgpackValue } from '@app/query/influx-msgpack';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SourceError, msgpackResponses } from './msgpack-answer-reader';

/** Enough of a msgpack writer for influxd-shaped answers (int64, float64, str, array, map, bool, nil). */
function encode(v: MsgpackValue): Buffer {
  if (v === null) return Buffer.from([0xc0]);
  if (typeof v === 'boolean') return Buffer.from([v ? 0xc3 : 0xc2]);
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(9);
    b[0] = 0xd3;
    b.writeBigInt64BE(v, 1);
    return b;
  }
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0xdb;
    h.writeUInt32BE(s.length, 1);
    return Buffer.concat([h, s]);
  }
  if (Array.isArray(v)) {
    const h = Buffer.alloc(5);
    h[0] = 0xdd;
    h.writeUInt32BE(v.length, 1);
    return Buffer.concat([h, ...v.map(encode)]);
  }
  const entries = Object.entries(v as Record<string, MsgpackValue>);
  const h = Buffer.alloc(5);
  h[0] = 0xdf;
  h.writeUInt32BE(entries.length, 1);
  return Buffer.concat([h, ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

type Answer = (res: http.ServerResponse) => void;
let answer: Answer;
let server: http.Server;
let client: BackendClient;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const config = parseClusterConfig(
    { backends: { s: { url: `http://127.0.0.1:${port}`, db: 'db' } }, keymaps: { _default_: ['s'] }, proxies: {} },
    PRODUCT_CONFIG_RULES,
  );
  client = new BackendClient('s', config.backends.s);
});

afterAll(async () => {
  await client.close();
  await new Promise((r) => server.close(r));
});

async function all(signal = new AbortController().signal): Promise<MsgpackValue[]> {
  const out: MsgpackValue[] = [];
  for await (const v of msgpackResponses(client, { method: 'POST', text: 'SELECT' }, signal)) out.push(v);
  return out;
}

/** Writes `body` in pieces of 1..`most` bytes, each after the last has been flushed. */
function inPieces(body: Buffer, most: number): Answer {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/x-msgpack' });
    let at = 0;
    let n = 0;
    const next = () => {
      if (at >= body.length) {
        res.end();
        return;
      }
      const len = 1 + ((n++ * 7919) % most);
      res.write(body.subarray(at, (at += len)), next);
    };
    next();
  };
}

describe('msgpackResponses', () => {
  const responses: MsgpackValue[] = [
    { results: [{ statement_id: 0n, series: [{ name: 'cpu', columns: ['time', 'v'], values: [[1n, 1.5]] }], partial: true }] },
    // one larger than the re-parse threshold, so a partial value is parsed again only as it grows
    {
      results: [
        {
          statement_id: 0n,
          series: [{ name: 'big', columns: ['time', 's'], values: Array.from({ length: 300 }, (_, i) => [BigInt(i), 'x'.repeat(1000)]) }],
        },
      ],
    },
    { results: [{ statement_id: 0n }] },
  ];
  const body = Buffer.concat(responses.map(encode));

  it('yields every response of a chunked answer in order, however the bytes are split', async () => {
    for (const most of [1_000, 65_536]) {
      answer = inPieces(body, most);
      expect(await all()).toEqual(responses);
    }
  });

  it('says influxd’s error text for an error status', async () => {
    answer = (res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"error parsing query: boom"}');
    await expect(all()).rejects.toThrow(new SourceError('backend s answered 400: error parsing query: boom'));
  });

  it('refuses an answer that is not msgpack (an influxd before 1.4)', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[]}');
    await expect(all()).rejects.toThrow(/not msgpack/);
  });

  it('refuses an answer that ends inside a value', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'application/x-msgpack' }).end(body.subarray(0, body.length - 3));
    await expect(all()).rejects.toThrow(/ended inside a msgpack value/);
  });

  it('stops reading when aborted, with the signal’s reason', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/x-msgpack' });
      res.write(encode(responses[0]));
      // and never ends
    };
    const abort = new AbortController();
    const values: MsgpackValue[] = [];
    const reading = (async () => {
      for await (const v of msgpackResponses(client, { method: 'POST', text: 'SELECT' }, abort.signal)) {
        values.push(v);
        abort.abort(new Error('cancelled'));
      }
    })();
    await expect(reading).rejects.toThrow('cancelled');
    expect(values).toHaveLength(1);
  });

  it('calls an unreachable backend a SourceError', async () => {
    const config = parseClusterConfig(
      { backends: { d: { url: 'http://127.0.0.1:9', db: 'db' } }, keymaps: { _default_: ['d'] }, proxies: {} },
      PRODUCT_CONFIG_RULES,
    );
    const down = new BackendClient('d', config.backends.d);
    try {
      const read = (async () => {
        for await (const v of msgpackResponses(down, { method: 'POST', text: 'SELECT' }, new AbortController().signal)) void v;
      })();
      await expect(read).rejects.toBeInstanceOf(SourceError);
    } finally {
      await down.close();
    }
  });
});
