import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobRecord, JobRefusedError, type JobRequest } from '@app/data-movement/job-model';
import { Etcd3 } from 'etcd3';
import Redis from 'ioredis';
import { type Etcd, startEtcd } from '../../../test/support/etcd';
import { startRedis, type Redis as RedisServer } from '../../../test/support/redis';
import { JOB_HISTORY, type JobStore, MemoryJobStore, newJobRecord } from './job-store';
import { EtcdJobStore } from './job-store.etcd';
import { FileJobStore } from './job-store.file';
import { RedisJobStore } from './job-store.redis';

jest.setTimeout(60_000);

const BACKENDS = ['node1', 'node2', 'node3'];
const recover = (backend: string): JobRequest => ({ kind: 'recover', backend });

/** The contract every store keeps, run against each one (Redis and etcd real servers). */
function contract(name: string, open: () => Promise<{ store: JobStore; reopen?: () => Promise<JobStore> }>) {
  describe(name, () => {
    let store: JobStore;
    let reopen: (() => Promise<JobStore>) | undefined;
    beforeEach(async () => {
      ({ store, reopen } = await open());
    });
    afterEach(async () => store.close());

    it('creates, lists in creation order, gets and updates', async () => {
      const a = await store.create(newJobRecord(recover('node1'), 1_000), BACKENDS);
      const b = await store.create(newJobRecord(recover('node2'), 2_000), BACKENDS);
      expect((await store.list()).map((r) => r.id)).toEqual([a.id, b.id]);
      const after = await store.update(a.id, (r) => ({ ...r, state: 'running', runner: 's1' }));
      expect(after).toMatchObject({ id: a.id, state: 'running', runner: 's1' });
      expect(await store.get(a.id)).toMatchObject({ state: 'running', runner: 's1' });
      expect(await store.get('nope')).toBeNull();
      expect(await store.update('nope', (r) => r)).toBeNull();
    });

    it('refuses (409) a job on a backend an unfinished job holds, and accepts it once that one is finished', async () => {
      const a = await store.create(newJobRecord(recover('node1')), BACKENDS);
      await expect(store.create(newJobRecord({ kind: 'cleanup', backend: 'node1', confirm: true }), BACKENDS)).rejects.toMatchObject({
        name: 'JobRefusedError',
        status: 409,
      });
      // a rebalance touches every backend
      await expect(store.create(newJobRecord({ kind: 'rebalance' }), BACKENDS)).rejects.toBeInstanceOf(JobRefusedError);
      await store.create(newJobRecord(recover('node2')), BACKENDS);
      await store.cancel(a.id);
      expect(await store.get(a.id)).toMatchObject({ state: 'cancelled' });
      await store.create(newJobRecord(recover('node1')), BACKENDS);
    });

    it('lets exactly one of many concurrent creates on the same backend through', async () => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.create(newJobRecord(recover('node3')), BACKENDS)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await store.list()).filter((r) => r.state === 'pending')).toHaveLength(1);
    });

    it('applies concurrent updates one after another (compare-and-set)', async () => {
      const a = await store.create(newJobRecord(recover('node1')), BACKENDS);
      const bump = () =>
        store.update(a.id, (r) => ({ ...r, progress: { ...(r.progress ?? zero()), windowsDone: (r.progress?.windowsDone ?? 0) + 1 } }));
      await Promise.all(Array.from({ length: 10 }, bump));
      expect((await store.get(a.id))?.progress?.windowsDone).toBe(10);
    });

    it('a cancel wins over a later conditional update; a finished job is not cancelled again', async () => {
      const a = await store.create(newJobRecord(recover('node1')), BACKENDS);
      await store.update(a.id, (r) => ({ ...r, state: 'running' }));
      await store.cancel(a.id, 'operator said so');
      const after = await store.update(a.id, (r) => (r.state === 'running' ? { ...r, state: 'done' } : null));
      expect(after).toMatchObject({ state: 'cancelled', error: 'operator said so' });
      const b = await store.create(newJobRecord(recover('node2')), BACKENDS);
      await store.update(b.id, (r) => ({ ...r, state: 'done' }));
      expect(await store.cancel(b.id)).toMatchObject({ state: 'done' });
    });

    it(`keeps the last ${JOB_HISTORY} finished jobs`, async () => {
      for (let i = 0; i < JOB_HISTORY + 3; i++) {
        const r = await store.create(newJobRecord(recover('node1'), 10_000 + i), BACKENDS);
        await store.update(r.id, (x) => ({ ...x, state: 'done' }));
      }
      const open = await store.create(newJobRecord(recover('node1'), 99_999), BACKENDS);
      const all = await store.list();
      expect(all.filter((r) => r.state === 'done')).toHaveLength(JOB_HISTORY);
      expect(all.at(-1)?.id).toBe(open.id);
      expect(all[0].createdAt).toBe(10_000 + 3);
    });

    if (name === 'FileJobStore') {
      it('keeps the jobs across a restart (the state file)', async () => {
        const a = await store.create(newJobRecord(recover('node1')), BACKENDS);
        await store.update(a.id, (r) => ({ ...r, state: 'running', progress: { ...zero(), cursor: { step: 2, windowStart: 5 } } }));
        const again = await reopen!();
        expect(await again.get(a.id)).toMatchObject({ state: 'running', progress: { cursor: { step: 2, windowStart: 5 } } });
      });
    }
  });
}

function zero(): NonNullable<JobRecord['progress']> {
  return { cursor: { step: 0 }, windowsDone: 0, windowsTotal: 0, pointsCopied: 0, bytesCopied: 0, rate: 0, etaSeconds: null, updatedAt: 0 };
}

contract('MemoryJobStore', async () => ({ store: new MemoryJobStore() }));

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
contract('FileJobStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'job-store-'));
  dirs.push(dir);
  const path = join(dir, 'sub', 'jobs.json');
  return {
    store: new FileJobStore(path),
    reopen: async () => {
      expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1 });
      return new FileJobStore(path);
    },
  };
});

describe('with real servers', () => {
  let redisServer: RedisServer;
  let etcdServer: Etcd;
  const clients: { close(): unknown }[] = [];
  let db = 0;
  let prefix = 0;
  beforeAll(async () => {
    [redisServer, etcdServer] = await Promise.all([startRedis(), startEtcd()]);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await Promise.all([redisServer?.stop(), etcdServer?.stop()]);
  });

  contract('RedisJobStore', async () => {
    const client = new Redis({ host: redisServer.host, port: redisServer.port, db: ++db % 16 });
    clients.push({ close: () => client.disconnect() });
    await client.flushdb();
    return { store: new RedisJobStore(client) };
  });

  contract('EtcdJobStore', async () => {
    const client = new Etcd3({ hosts: etcdServer.url });
    clients.push({ close: () => client.close() });
    return { store: new EtcdJobStore(client, `/t${++prefix}/`) };
  });
});
