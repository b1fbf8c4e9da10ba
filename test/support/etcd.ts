/**
 * A single-member etcd on loopback ports in a temp data dir, plus put/get/delete over the
 * v3 JSON gateway so tests can read and write the config the proxy shares.
 */
import { request } from './http';
import { freePorts } from './ports';
import { ServiceLifecycle, ServiceRunner, makeTempDir, removeDir, spawnManaged, stopAll, track, untilServing, untrack } from './processes';

export { stopAll };

/** Reads and writes keys over etcd's v3 JSON gateway. */
export interface EtcdKv {
  put(key: string, value: string): Promise<void>;
  /** The value at `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  /** All keys and values under `prefix`. */
  getPrefix(prefix: string): Promise<Record<string, string>>;
  delete(key: string): Promise<void>;
}

export interface Etcd extends EtcdKv, ServiceLifecycle {
  /** http://127.0.0.1:CLIENT_PORT */
  readonly url: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dir: string;
  stop(): Promise<unknown>;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

/** KV over the v3 JSON gateway of the member `target()` names (called per request). */
function etcdKv(target: () => { url: string; name: string }): EtcdKv {
  const kv = async (op: string, payload: object) => {
    const { url, name } = target();
    const res = await request(`${url}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(payload) });
    if (res.status !== 200) throw new Error(`etcd ${op} on ${name} → ${res.status} ${res.text}`);
    return res.json();
  };
  return {
    async put(key, value) {
      await kv('put', { key: b64(key), value: b64(value) });
    },
    async get(key) {
      const json = await kv('range', { key: b64(key) });
      const kvs = json.kvs ?? [];
      return kvs.length > 0 ? unb64(kvs[0].value ?? '') : undefined;
    },
    async getPrefix(prefix) {
      const json = await kv('range', { key: b64(prefix), range_end: prefixEnd(prefix) });
      const out: Record<string, string> = {};
      for (const item of json.kvs ?? []) out[unb64(item.key)] = unb64(item.value ?? '');
      return out;
    },
    async delete(key) {
      await kv('deleterange', { key: b64(key) });
    },
  };
}

/** Waits until the etcd member on `url` reports healthy. */
function untilHealthy(proc: Parameters<typeof untilServing>[0], url: string, what: string, attempts?: number) {
  return untilServing(
    proc,
    `${what} on ${url} to report healthy`,
    async () => {
      const res = await request(`${url}/health`, { timeoutMs: 1_000 });
      return res.status === 200 && res.json().health === 'true';
    },
    attempts,
  );
}

export async function startEtcd(): Promise<Etcd> {
  const dir = await makeTempDir('etcd');
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const runner = new ServiceRunner({
    what: `etcd on ${url}`,
    dir,
    stopTimeoutMs: 10_000,
    spawn: () =>
      spawnManaged(`etcd:${clientPort}`, 'etcd', [
        '--name',
        'default',
        '--data-dir',
        `${dir}/data`,
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `default=${peerUrl}`,
      ]),
    ready: (proc) => untilHealthy(proc, url, 'etcd'),
  });
  const handle: Etcd = runner.handle({ url, clientPort, peerPort, dir, ...etcdKv(() => ({ url, name: 'etcd' })) });
  await runner.start();
  return handle;
}

/** One member of an etcd cluster started by startEtcdCluster(). */
/** One member of an etcd cluster started by startEtcdCluster(); restart() rejoins it with the same name, ports and data dir. */
export interface EtcdMember extends ServiceLifecycle {
  readonly name: string;
  /** http://127.0.0.1:CLIENT_PORT */
  readonly url: string;
}

export interface EtcdCluster extends EtcdKv {
  /** Every member's client URL, for a client's endpoint list. */
  readonly urls: string[];
  readonly members: EtcdMember[];
  /** The member the raft leader is (asked of a running member). KV helpers talk to any running member. */
  leader(): Promise<EtcdMember>;
  stop(): Promise<void>;
}

/**
 * A `size`-member etcd cluster on loopback (default 3: it keeps a quorum with one member down), each
 * member in its own data dir under one temp dir; ready once every member reports healthy.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const dir = await makeTempDir('etcd-cluster');
  const ports = await freePorts(2 * size);
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    url: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = `e2e-${ports[0]}`;
  const runners = specs.map((spec) => {
    let started = false;
    return new ServiceRunner({
      what: `etcd member ${spec.name}`,
      stopTimeoutMs: 10_000,
      spawn: () => {
        const proc = spawnManaged(`etcd:${spec.name}`, 'etcd', [
          '--name',
          spec.name,
          '--data-dir',
          `${dir}/${spec.name}`,
          '--listen-client-urls',
          spec.url,
          '--advertise-client-urls',
          spec.url,
          '--listen-peer-urls',
          spec.peerUrl,
          '--initial-advertise-peer-urls',
          spec.peerUrl,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-token',
          token,
          '--initial-cluster-state',
          started ? 'existing' : 'new',
        ]);
        started = true;
        return proc;
      },
      ready: (proc) => untilHealthy(proc, spec.url, `etcd member ${spec.name}`, 200),
    });
  });
  const members: EtcdMember[] = runners.map((runner, i) => runner.handle({ name: specs[i].name, url: specs[i].url }));
  const running = () => {
    const member = members.find((m) => m.isRunning());
    if (!member) throw new Error('no etcd member is running');
    return member;
  };
  let stopped = false;

  const cluster: EtcdCluster = {
    urls: specs.map((s) => s.url),
    members,
    async leader() {
      // the raft leader is the member whose own id (in the answer's header) is the leader id it reports
      for (const m of members.filter((x) => x.isRunning())) {
        const res = await request(`${m.url}/v3/maintenance/status`, { method: 'POST', body: '{}', timeoutMs: 2_000 }).catch(
          () => undefined,
        );
        const status = res?.status === 200 ? res.json() : undefined;
        if (status && String(status.header?.member_id) === String(status.leader)) return m;
      }
      throw new Error('no running etcd member is the raft leader');
    },
    ...etcdKv(running),
    async stop() {
      if (stopped) return;
      stopped = true;
      untrack(cluster);
      try {
        await Promise.all(runners.map((r) => r.stop()));
      } finally {
        await removeDir(dir);
      }
    },
  };
  track(cluster);
  try {
    await Promise.all(runners.map((r) => r.start())); // all spawned at once: the first needs the others for a quorum
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return cluster;
}
