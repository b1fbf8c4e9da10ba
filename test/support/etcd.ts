/**
 * A single-member etcd on loopback ports in a temp data dir, plus put/get/delete over the
 * v3 JSON gateway so tests can read and write the config the proxy shares.
 */
import { request } from './http';
import { freePorts } from './ports';
import { ExitInfo, ManagedProcess, makeTempDir, removeDir, spawnManaged, stopAll, terminate, track, untrack, waitForExit, waitUntil } from './processes';

export { stopAll };

export interface Etcd {
  /** http://127.0.0.1:CLIENT_PORT */
  readonly url: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly pid: number;
  readonly dir: string;
  isRunning(): boolean;
  output(): string;
  put(key: string, value: string): Promise<void>;
  /** The value at `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  /** All keys and values under `prefix`. */
  getPrefix(prefix: string): Promise<Record<string, string>>;
  delete(key: string): Promise<void>;
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  restart(): Promise<void>;
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

export async function startEtcd(): Promise<Etcd> {
  const dir = await makeTempDir('etcd');
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  let proc: ManagedProcess | undefined;
  let stopped = false;

  const launch = async () => {
    proc = spawnManaged(`etcd:${clientPort}`, 'etcd', [
      '--name', 'default',
      '--data-dir', `${dir}/data`,
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `default=${peerUrl}`,
    ]);
    const current = proc;
    await waitUntil(
      async () => {
        const res = await request(`${url}/health`, { timeoutMs: 1_000 });
        return res.status === 200 && res.json().health === 'true';
      },
      {
        attempts: 150,
        intervalMs: 100,
        what: `etcd on ${url} to report healthy`,
        abort: () => (current.isRunning() ? undefined : 'etcd exited'),
        details: () => current.output(),
      },
    );
  };

  const kv = async (op: string, payload: object) => {
    const res = await request(`${url}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(payload) });
    if (res.status !== 200) throw new Error(`etcd ${op} → ${res.status} ${res.text}`);
    return res.json();
  };

  const handle: Etcd = {
    url,
    clientPort,
    peerPort,
    dir,
    get pid() {
      return proc?.isRunning() ? proc.pid : -1;
    },
    isRunning: () => proc?.isRunning() ?? false,
    output: () => proc?.output() ?? '',
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
    async kill(signal = 'SIGKILL') {
      if (!proc?.isRunning()) return proc ? proc.exited : { code: null, signal: null };
      try {
        process.kill(proc.pid, signal);
      } catch {
        /* gone */
      }
      const info = await waitForExit(proc, 15_000);
      if (!info) throw new Error(`etcd pid ${proc.pid} did not exit after ${signal}`);
      return info;
    },
    async restart() {
      if (stopped) throw new Error('etcd was stopped; start a new one');
      if (proc?.isRunning()) await terminate(proc);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      untrack(handle);
      try {
        if (proc) await terminate(proc, 'SIGTERM', 10_000);
      } finally {
        await removeDir(dir);
      }
    },
  };
  track(handle);
  try {
    await launch();
  } catch (err) {
    await handle.stop().catch(() => undefined);
    throw err;
  }
  return handle;
}

/** One member of an etcd cluster started by startEtcdCluster(). */
export interface EtcdMember {
  readonly name: string;
  /** http://127.0.0.1:CLIENT_PORT */
  readonly url: string;
  readonly pid: number;
  isRunning(): boolean;
  output(): string;
  /** Sends `signal` (default SIGKILL) and waits for exit; its data dir is kept for restart(). */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts it again with the same name, ports and data dir: it rejoins the cluster. */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  /** Every member's client URL, for a client's endpoint list. */
  readonly urls: string[];
  readonly members: EtcdMember[];
  /** The member the raft leader is (asked of a running member). */
  leader(): Promise<EtcdMember>;
  /** KV helpers talking to any running member. */
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  getPrefix(prefix: string): Promise<Record<string, string>>;
  delete(key: string): Promise<void>;
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
  let stopped = false;

  const members = specs.map((spec) => {
    let proc: ManagedProcess | undefined;
    let started = false;
    const launch = () => {
      proc = spawnManaged(`etcd:${spec.name}`, 'etcd', [
        '--name', spec.name,
        '--data-dir', `${dir}/${spec.name}`,
        '--listen-client-urls', spec.url,
        '--advertise-client-urls', spec.url,
        '--listen-peer-urls', spec.peerUrl,
        '--initial-advertise-peer-urls', spec.peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', started ? 'existing' : 'new',
      ]);
      started = true;
      return proc;
    };
    const waitHealthy = (current: ManagedProcess) =>
      waitUntil(
        async () => {
          const res = await request(`${spec.url}/health`, { timeoutMs: 1_000 });
          return res.status === 200 && res.json().health === 'true';
        },
        {
          attempts: 200,
          intervalMs: 100,
          what: `etcd member ${spec.name} on ${spec.url} to report healthy`,
          abort: () => (current.isRunning() ? undefined : `etcd member ${spec.name} exited`),
          details: () => current.output(),
        },
      );
    const member: EtcdMember & { launch(): ManagedProcess; waitHealthy(p: ManagedProcess): Promise<unknown>; proc(): ManagedProcess | undefined } = {
      name: spec.name,
      url: spec.url,
      get pid() {
        return proc?.isRunning() ? proc.pid : -1;
      },
      isRunning: () => proc?.isRunning() ?? false,
      output: () => proc?.output() ?? '',
      async kill(signal = 'SIGKILL') {
        if (!proc?.isRunning()) return proc ? proc.exited : { code: null, signal: null };
        try {
          process.kill(proc.pid, signal);
        } catch {
          /* gone */
        }
        const info = await waitForExit(proc, 15_000);
        if (!info) throw new Error(`etcd member ${spec.name} (pid ${proc.pid}) did not exit after ${signal}`);
        return info;
      },
      async restart() {
        if (stopped) throw new Error('the etcd cluster was stopped');
        if (proc?.isRunning()) await terminate(proc);
        await waitHealthy(launch());
      },
      launch,
      waitHealthy,
      proc: () => proc,
    };
    return member;
  });

  const running = () => members.find((m) => m.isRunning());
  const kv = async (op: string, payload: object) => {
    const member = running();
    if (!member) throw new Error('no etcd member is running');
    const res = await request(`${member.url}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(payload) });
    if (res.status !== 200) throw new Error(`etcd ${op} on ${member.name} → ${res.status} ${res.text}`);
    return res.json();
  };

  const cluster: EtcdCluster = {
    urls: specs.map((s) => s.url),
    members,
    async leader() {
      // the raft leader is the member whose own id (in the answer's header) is the leader id it reports
      for (const m of members.filter((x) => x.isRunning())) {
        const res = await request(`${m.url}/v3/maintenance/status`, { method: 'POST', body: '{}', timeoutMs: 2_000 }).catch(() => undefined);
        const status = res?.status === 200 ? res.json() : undefined;
        if (status && String(status.header?.member_id) === String(status.leader)) return m;
      }
      throw new Error('no running etcd member is the raft leader');
    },
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
    async stop() {
      if (stopped) return;
      stopped = true;
      untrack(cluster);
      try {
        await Promise.all(members.map((m) => m.proc()).filter((p): p is ManagedProcess => !!p).map((p) => terminate(p, 'SIGTERM', 10_000)));
      } finally {
        await removeDir(dir);
      }
    },
  };
  track(cluster);
  try {
    const procs = members.map((m) => m.launch()); // all at once: the first needs the others for a quorum
    await Promise.all(members.map((m, i) => m.waitHealthy(procs[i])));
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return cluster;
}
