/**
 * A real influxd 1.x for the e2e tests, in its own temp dir on loopback ports, started under
 * `prlimit --as=4000000000` so a runaway query kills only this influxd, never the machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HttpResponse, answers, request } from './http';
import { freePorts } from './ports';
import { ServiceApi, ServiceLifecycle, ServiceRunner, makeTempDir, spawnManaged, stopAll, untilServing } from './processes';

export { stopAll };

/** Address-space cap for influxd (see influxdb-compat.md, "A query that kills influxd"). */
const ADDRESS_SPACE_LIMIT = '4000000000';

export type Row = Record<string, any> & { time: bigint };

export interface StartInfluxdOptions {
  /** Serve HTTPS with this certificate and key (PEM files); `ca` is what the harness trusts when it talks to it. */
  tls?: { certFile: string; keyFile: string; ca: string | Buffer };
  /** auth-enabled = true with this admin user, created at first start; the harness's own requests use it. */
  auth?: { username: string; password: string };
}

export interface Influxd extends ServiceLifecycle {
  /** http://127.0.0.1:PORT (https:// with `tls`) */
  readonly url: string;
  readonly port: number;
  /** Port of the RPC/backup service (top-level bind-address). */
  readonly rpcPort: number;
  /** Temp dir holding influxd.conf, meta, data and wal. */
  readonly dir: string;
  /** Version influxd reports in X-Influxdb-Version (set once it has answered /ping). */
  readonly version: string;
  /** POST /query with form body q=…; db and params go in the URL. Throws unless 200. */
  query(q: string, db?: string, params?: Record<string, string>): Promise<any>;
  /** Runs `q` (one statement) with epoch=ns; returns rows as objects, `time` as BigInt ns. Throws on a statement error. */
  rows(q: string, db: string, params?: Record<string, string>): Promise<Row[]>;
  createDatabase(name: string): Promise<void>;
  /** POST /write?db=… with `body` exactly as given. */
  write(db: string, body: string | Buffer, params?: Record<string, string>, headers?: Record<string, string>): Promise<HttpResponse>;
  /** SIGTERM by PID, wait for exit (bounded, then SIGKILL), remove the temp dir. */
  stop(): Promise<unknown>;
}

/** Starts attempts at most: a port freePorts chose can be taken by another test's process before influxd binds it. */
const BIND_ATTEMPTS = 3;

export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<Influxd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startInfluxdOnce(options);
    } catch (err) {
      if (attempt >= BIND_ATTEMPTS || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startInfluxdOnce(options: StartInfluxdOptions): Promise<Influxd> {
  const dir = await makeTempDir('influxd');
  const [port, rpcPort] = await freePorts(2);
  const configPath = path.join(dir, 'influxd.conf');
  await fs.promises.writeFile(configPath, influxdConf(dir, port, rpcPort, options));
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = options.tls?.ca;
  const authHeaders: Record<string, string> = options.auth
    ? { Authorization: `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}` }
    : {};
  let userCreated = false;

  let version = '';

  const runner = new ServiceRunner({
    what: `influxd on ${url}`,
    dir,
    stopTimeoutMs: 15_000,
    spawn: () => spawnManaged(`influxd:${port}`, 'prlimit', [`--as=${ADDRESS_SPACE_LIMIT}`, '--', 'influxd', '-config', configPath]),
    ready: async (proc) => {
      await untilServing(proc, `influxd on ${url} to answer GET /ping with 204`, () => answers(`${url}/ping`, 204, 2_000, { ca }));
      const ping = await request(`${url}/ping`, { ca });
      version = String(ping.headers['x-influxdb-version'] ?? '');
      if (options.auth && !userCreated) {
        // with no admin yet, influxd lets this one statement through unauthenticated
        const { username, password } = options.auth;
        const res = await request(`${url}/query`, {
          method: 'POST',
          ca,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            q: `CREATE USER ${JSON.stringify(username)} WITH PASSWORD '${password.replace(/'/g, "\\'")}' WITH ALL PRIVILEGES`,
          }).toString(),
        });
        if (res.status !== 200 || res.json().results?.[0]?.error) throw new Error(`CREATE USER on ${url}: ${res.status} ${res.text}`);
        userCreated = true;
      }
    },
  });

  const handle: Influxd = runner.handle<ServiceApi<Influxd>>({
    url,
    port,
    rpcPort,
    dir,
    get version() {
      return version;
    },

    async query(q, db, params = {}) {
      const search = new URLSearchParams({ ...(db ? { db } : {}), ...params });
      const res = await request(`${url}/query?${search}`, {
        method: 'POST',
        ca,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...authHeaders },
        body: new URLSearchParams({ q }).toString(),
      });
      if (res.status !== 200) throw new Error(`influxd ${url} query ${JSON.stringify(q)} → ${res.status} ${res.text}`);
      return res.json();
    },

    async rows(q, db, params = {}) {
      const json = await handle.query(q, db, { epoch: 'ns', ...params });
      const result = json.results?.[0] ?? {};
      if (result.error) throw new Error(`influxd ${url} query ${JSON.stringify(q)}: ${result.error}`);
      const out: Row[] = [];
      for (const series of result.series ?? []) {
        for (const values of series.values ?? []) {
          const row: Record<string, any> = { ...(series.tags ?? {}) };
          series.columns.forEach((col: string, i: number) => {
            row[col] = col === 'time' ? BigInt(values[i]) : values[i];
          });
          out.push(row as Row);
        }
      }
      return out;
    },

    async createDatabase(name) {
      const json = await handle.query(`CREATE DATABASE ${JSON.stringify(name)}`);
      const err = json.results?.[0]?.error;
      if (err) throw new Error(`CREATE DATABASE ${name} on ${url}: ${err}`);
    },

    write(db, body, params = {}, headers = {}) {
      const search = new URLSearchParams({ db, ...params });
      return request(`${url}/write?${search}`, { method: 'POST', body, ca, headers: { ...authHeaders, ...headers } });
    },
  });
  await runner.start();
  return handle;
}

function influxdConf(dir: string, port: number, rpcPort: number, options: StartInfluxdOptions = {}): string {
  const p = (sub: string) => JSON.stringify(path.join(dir, sub));
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = ${p('meta')}
  logging-enabled = false

[data]
  dir = ${p('data')}
  wal-dir = ${p('wal')}
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${options.auth ? 'true' : 'false'}
  https-enabled = ${options.tls ? 'true' : 'false'}
${options.tls ? `  https-certificate = ${JSON.stringify(options.tls.certFile)}\n  https-private-key = ${JSON.stringify(options.tls.keyFile)}\n` : ''}  log-enabled = false
  pprof-enabled = false

[logging]
  suppress-logo = true

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
}
