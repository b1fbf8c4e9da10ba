import 'reflect-metadata';
import type { ClusterConfig } from '@app/config';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../app.module';
import { parseProxyArgs } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import type { Topology } from '../cluster/topology';
import type { Listener } from './listener';
import { ProxyServer } from './proxy-server';

/** A loopback port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The running config with the node's idleTimeout (the listener's keep-alive timeout) changed. */
function withIdleTimeout(config: ClusterConfig, seconds: number): ClusterConfig {
  return { ...config, proxies: { ...config.proxies, p1: { ...config.proxies.p1, idleTimeout: seconds } } };
}

describe('ProxyServer follows the cluster state’s change stream', () => {
  let dir: string;
  let app: INestApplication;
  let closed: boolean;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxy-server-spec-'));
    const [listen, nobody] = [await freePort(), await freePort()];
    const config = {
      backends: { a: { url: `http://127.0.0.1:${nobody}`, db: 'd' } },
      keymaps: { _default_: ['a'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${listen}`, db: 'd', idleTimeout: 10 } },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const options = parseProxyArgs(['--config', join(dir, 'config.json'), '--node', 'p1', '--spool-dir', join(dir, 'spool')]);
    app = await NestFactory.create(AppModule.forRoot(options), new ExpressAdapter(express()), { logger: false });
    closed = false;
  });

  afterEach(async () => {
    if (!closed) await app.close(); // (a second close would drain the backends twice)
    await rm(dir, { recursive: true, force: true });
  });

  it('adopts a new topology’s listener settings as it is applied, and no more once closed', async () => {
    const cluster = app.get(ClusterStateService);
    await cluster.start();
    await app.init();
    const server = app.get(ProxyServer);
    const listener: Listener = await server.listen((_req, res) => res.end());
    expect(listener.keepAliveTimeout).toBe(10_000);
    const seen: number[] = [];
    let completed = false;
    cluster.changes.subscribe({ next: (t: Topology) => seen.push(t.node.idleTimeout), complete: () => (completed = true) });

    // no waiting: the listener has its new timeout by the time apply() (what /reload calls) returns
    await cluster.apply(withIdleTimeout(cluster.topology.config, 42));
    expect(listener.keepAliveTimeout).toBe(42_000);
    expect(seen).toEqual([42]);

    await server.close(1_000);
    await cluster.apply(withIdleTimeout(cluster.topology.config, 7));
    expect(seen).toEqual([42, 7]); // the stream goes on; the closed server no longer listens to it
    expect(listener.keepAliveTimeout).toBe(42_000);

    expect(completed).toBe(false);
    closed = true;
    await app.close();
    expect(completed).toBe(true); // the stream ends with the app
  });
});
