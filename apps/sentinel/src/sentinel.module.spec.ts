import { Test, type TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SentinelOptions } from './cli/sentinel-options';
import { HealthController } from './http/health.controller';
import { MetaController } from './http/meta.controller';
import { SentinelMembershipService } from './membership/sentinel-membership.service';
import { SentinelModule } from './sentinel.module';
import { SentinelService } from './sentinel.service';

/** Answers like influxd: /ping 204 with a version, SHOW DATABASES 200 — or, for /broken, a statement error. */
function fakeInfluxd(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/ping')) {
      res.writeHead(204, { 'X-Influxdb-Version': '1.8.10' }).end();
    } else if (req.url?.startsWith('/broken/ping')) {
      res.writeHead(204).end();
    } else if (req.url?.startsWith('/broken/query')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0,"error":"engine is closed"}]}');
    } else {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db"]]}]}]}');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function eventually<T>(probe: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SentinelModule on a config file', () => {
  let server: http.Server;
  let dir: string;
  let module: TestingModule;

  beforeAll(async () => {
    server = await fakeInfluxd();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'sentinel-spec-'));
    const path = join(dir, 'config.json');
    writeFileSync(
      path,
      JSON.stringify({
        backends: {
          up: { url, db: 'db' },
          broken: { url: `${url}/broken`, db: 'db' },
          gone: { url: 'http://127.0.0.1:1', db: 'db', password: 'secret' },
        },
        keymaps: { _default_: ['up'] },
        proxies: { p1: { listenAddr: '127.0.0.1:1' } },
      }),
    );
    const options: SentinelOptions = {
      name: 'solo',
      store: { kind: 'file', path },
      listen: { host: '127.0.0.1', port: 0 },
      intervalMs: 50,
      timeoutMs: 500,
      downAfter: 2,
      upAfter: 2,
      leaderTtlMs: 1_000,
      replaySlots: 1,
      slotTtlMs: 1_000,
      membershipTtl: 5,
      writeFailureReports: 1,
      logLevel: 'warn',
    };
    module = await Test.createTestingModule({ imports: [SentinelModule.forRoot(options)] })
      .setLogger(false as never)
      .compile();
    await module.get(SentinelService).start();
    await module.init();
    await module.get(SentinelMembershipService).start();
  });

  afterAll(async () => {
    await module?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leads alone and publishes each backend’s verdict from /ping and SHOW DATABASES', async () => {
    const meta = module.get(MetaController);
    const m = await eventually(async () => {
      const j = await meta.meta();
      return Object.values(j.backends).every((b) => (b as { up: boolean | null }).up !== null) ? j : undefined;
    });
    expect(m).toMatchObject({ name: 'solo', role: 'leader', leader: 'solo', provider: { kind: 'file' } });
    expect(m.backends.up).toMatchObject({ up: true, version: '1.8.10', by: 'solo', reason: null });
    expect(m.backends.broken).toMatchObject({ up: false, reason: 'probe', lastError: 'SHOW DATABASES answered 200: engine is closed' });
    expect(m.backends.gone).toMatchObject({ up: false, lastError: expect.stringMatching(/^ping: ECONNREFUSED/) });
    expect(JSON.stringify(m)).not.toContain('secret');
    expect(m.publication).toMatchObject({ leader: 'solo', interval: 50, staleAfter: 1_100, slotTtl: 1_000 });
    expect(Object.keys(m.sentinels)).toEqual(['solo']);
  });

  it('answers /health with its role', () => {
    const res = { status: jest.fn() };
    expect(module.get(HealthController).health(res as never)).toMatchObject({ status: 'pass', role: 'leader', sentinel: 'solo' });
    expect(res.status).toHaveBeenCalledWith(200);
  });
});
