/**
 * Runs the built proxy (`bin/influxdb-proxy`) as a separate process, the way an operator would:
 * config file + --node + --spool-dir, waiting until it answers GET /ping with 204.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { answers, request } from './http';
import {
  ExitInfo,
  REPO_ROOT,
  ServiceApi,
  ServiceLifecycle,
  ServiceRunner,
  makeTempDir,
  spawnManaged,
  stopAll,
  untilServing,
} from './processes';

export { stopAll };

export const PROXY_BIN = path.join(REPO_ROOT, 'bin', 'influxdb-proxy');

export interface BackendConfig {
  url: string;
  db: string;
  zone?: string;
  interval?: number;
  timeout?: number;
  timeoutQuery?: number;
  maxRowLimit?: number;
  checkInterval?: number;
  rewriteInterval?: number;
  writeOnly?: number;
  [extra: string]: unknown;
}

export interface ProxyNodeConfig {
  listenAddr: string;
  db?: string;
  zone?: string;
  interval?: number;
  idleTimeout?: number;
  writeTracing?: number;
  queryTracing?: number;
  [extra: string]: unknown;
}

export interface ProxyConfig {
  backends: Record<string, BackendConfig>;
  keymaps: Record<string, string[]>;
  proxies: Record<string, ProxyNodeConfig>;
}

export interface StartProxyOptions {
  /**
   * Written as JSON to a temp file (a string is written as is, e.g. to test invalid files) and passed
   * as --config. With `store`, nothing is written: it only tells the node's listen address.
   */
  config?: ProxyConfig | string;
  /**
   * Flags choosing another config store instead of --config, e.g. ['--redis', '127.0.0.1:6379'] or
   * ['--etcd', url]. Then `config` or `listenAddr` must tell where the node listens.
   */
  store?: string[];
  /** The node's listen address when no `config` tells it (store-backed proxies). */
  listenAddr?: string;
  node?: string;
  /** Defaults to a fresh dir inside the proxy's temp dir (removed on stop). A given dir is left alone. */
  spoolDir?: string;
  extraArgs?: string[];
  /** Passed as --workers; 1 (a single process, as before --workers existed) unless a test asks for more. */
  workers?: number;
  /** Passed as --log-file-path. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  /** The CA to trust when the node has tlsCert (its url is then https://). */
  ca?: string | Buffer;
  /** Headers of the readiness GET /ping (credentials when the config has pingAuthEnabled). */
  readyHeaders?: Record<string, string>;
}

export interface ProxyProcess extends ServiceLifecycle {
  /** http://<listenAddr of the chosen node> */
  readonly url: string;
  readonly configPath: string;
  readonly spoolDir: string;
  /** Temp dir holding the config file (and the default spool dir). */
  readonly dir: string;
  /** SIGTERM, wait for exit (bounded, then SIGKILL); returns the exit code. Removes the temp dir (a given spool dir stays). */
  stop(): Promise<number | null>;
  /** Sends `signal` without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the current process exits. */
  exited(): Promise<ExitInfo>;
  /** Overwrites the config file (object → JSON, string → as is). Does not reload by itself. */
  rewriteConfig(config: ProxyConfig | string): Promise<void>;
}

export async function startProxy(options: StartProxyOptions): Promise<ProxyProcess> {
  if (!fs.existsSync(PROXY_BIN)) {
    throw new Error(`${PROXY_BIN} does not exist; the proxy has not been built into a runnable entry point yet`);
  }
  const node = options.node ?? 'p1';
  const dir = await makeTempDir('proxy');
  const configPath = path.join(dir, 'config.json');
  const spoolDir = options.spoolDir ?? path.join(dir, 'spool');
  await fs.promises.mkdir(spoolDir, { recursive: true });
  const serialize = (config: ProxyConfig | string) => (typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  if (!options.store) {
    if (options.config === undefined) throw new Error('startProxy: give `config` (or `store` and `listenAddr`)');
    await fs.promises.writeFile(configPath, serialize(options.config));
  }

  const listenAddr = options.listenAddr
    ? loopbackAddr(options.listenAddr)
    : options.config !== undefined
      ? listenAddrOf(options.config, node)
      : undefined;
  if (!listenAddr) throw new Error('startProxy: a store-backed proxy needs `listenAddr` or `config`');
  const url = `${usesTls(options.config, node) ? 'https' : 'http'}://${listenAddr}`;
  const args = [...(options.store ?? ['--config', configPath]), '--node', node, '--spool-dir', spoolDir];
  args.push('--workers', String(options.workers ?? 1));
  if (options.logFile) args.push('--log-file-path', options.logFile);
  args.push(...(options.extraArgs ?? []));

  const runner = new ServiceRunner({
    what: `influxdb-proxy on ${url}`,
    dir, // a caller-provided spool dir lives elsewhere and is the caller's to remove
    stopTimeoutMs: 20_000,
    spawn: () => spawnManaged(`proxy:${node}`, PROXY_BIN, args, { cwd: REPO_ROOT, env: options.env }),
    ready: (proc) =>
      untilServing(proc, `influxdb-proxy on ${url} to answer GET /ping with 204`, () =>
        answers(`${url}/ping`, 204, 2_000, { ca: options.ca, headers: options.readyHeaders }),
      ),
  });
  const handle: ProxyProcess = runner.handle<ServiceApi<ProxyProcess>>({
    url,
    configPath,
    spoolDir,
    dir,
    signal(signal: NodeJS.Signals) {
      const proc = runner.process;
      if (proc?.isRunning()) process.kill(proc.pid, signal);
    },
    exited: (): Promise<ExitInfo> => runner.process?.exited ?? Promise.resolve({ code: null, signal: null }),
    async rewriteConfig(config: ProxyConfig | string) {
      // Write beside and rename, so the proxy never reads a half-written file.
      const tmp = `${configPath}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, serialize(config));
      await fs.promises.rename(tmp, configPath);
    },
  });
  await runner.start();
  return handle;
}

function usesTls(config: ProxyConfig | string | undefined, node: string): boolean {
  try {
    const parsed: ProxyConfig | undefined = typeof config === 'string' ? JSON.parse(config) : config;
    return Boolean(parsed?.proxies?.[node]?.tlsCert);
  } catch {
    return false;
  }
}

function listenAddrOf(config: ProxyConfig | string, node: string): string {
  const parsed: ProxyConfig = typeof config === 'string' ? JSON.parse(config) : config;
  const addr = parsed.proxies?.[node]?.listenAddr;
  if (!addr) throw new Error(`config has no proxies.${node}.listenAddr`);
  return loopbackAddr(addr);
}

function loopbackAddr(addr: string): string {
  return addr.startsWith(':') ? `127.0.0.1${addr}` : addr;
}

/** POST /reload on a running proxy. */
export function reload(proxyUrl: string) {
  return request(`${proxyUrl}/reload`, { method: 'POST' });
}
