/**
 * A throwaway Prometheus (Debian's `prometheus`) on a loopback port with its own TSDB dir, scraping
 * itself, with remote_write / remote_read pointed wherever the test says (the proxy, an influxd).
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { freePort } from './ports';
import { ServiceLifecycle, ServiceRunner, makeTempDir, spawnManaged, stopAll, untilServing } from './processes';

export { stopAll };

export interface PrometheusOptions {
  /** remote_write URLs (e.g. http://127.0.0.1:PORT/api/v1/prom/write?db=x) */
  remoteWrite?: string[];
  /** remote_read URLs; each with read_recent: true, so even fresh samples are read remotely */
  remoteRead?: string[];
  /** scrape (and evaluation) interval, default 1s */
  scrapeInterval?: string;
  /** remote_write queue: a short deadline makes samples leave within about a second */
  batchSendDeadline?: string;
}

export interface Prometheus extends ServiceLifecycle {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** GET /api/v1/query?query=… → the parsed `data` of a success answer (throws on an error answer). */
  query(promql: string, time?: number): Promise<{ resultType: string; result: unknown[] }>;
  stop(): Promise<unknown>;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<Prometheus> {
  const dir = await makeTempDir('prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const interval = options.scrapeInterval ?? '1s';
  const deadline = options.batchSendDeadline ?? '1s';
  const yaml = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: prometheus',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${port}']`,
    ...(options.remoteWrite?.length
      ? [
          'remote_write:',
          ...options.remoteWrite.flatMap((u) => [`  - url: '${u}'`, '    queue_config:', `      batch_send_deadline: ${deadline}`]),
        ]
      : []),
    ...(options.remoteRead?.length
      ? ['remote_read:', ...options.remoteRead.flatMap((u) => [`  - url: '${u}'`, '    read_recent: true'])]
      : []),
    '',
  ].join('\n');
  const configFile = path.join(dir, 'prometheus.yml');
  await writeFile(configFile, yaml);
  const runner = new ServiceRunner({
    what: `prometheus on 127.0.0.1:${port}`,
    dir,
    stopTimeoutMs: 15_000,
    spawn: () =>
      spawnManaged(`prometheus:${port}`, 'prometheus', [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ]),
    ready: (proc) =>
      untilServing(proc, `prometheus on 127.0.0.1:${port} to be ready`, async () => {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        return res.status === 200;
      }),
  });
  const handle = runner.handle({
    url,
    port,
    dir,
    async query(promql: string, time?: number) {
      const params = new URLSearchParams({ query: promql });
      if (time !== undefined) params.set('time', String(time));
      const res = await fetch(`${url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { status: string; data?: { resultType: string; result: unknown[] }; error?: string };
      if (body.status !== 'success' || !body.data) throw new Error(`prometheus query ${promql}: ${res.status} ${body.error ?? ''}`);
      return body.data;
    },
  });
  await runner.start();
  return handle;
}
