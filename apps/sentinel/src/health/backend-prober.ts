import { BackendClient } from '@app/backend';
import type { BackendConfig } from '@app/config';
import type { ProbeResult } from './probe-state';

/**
 * Probes one backend the way a client would use it: GET /ping must answer 204, then a small real query
 * (`SHOW DATABASES`) must answer 200 without an error, both within `timeoutMs`. The backend's client is
 * the proxy's own (its Basic auth, its https CA), so the sentinel sees what the proxies would.
 */
export class BackendProber {
  private readonly client: BackendClient;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    private readonly timeoutMs: number,
  ) {
    this.client = new BackendClient(name, config);
  }

  async probe(): Promise<ProbeResult> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const headers: Record<string, string> = {};
    if (this.client.authorization) headers.authorization = this.client.authorization;
    let version: string | undefined;
    let step = 'ping';
    try {
      const ping = await this.client.request({ path: `${this.client.pathPrefix}/ping`, method: 'GET', headers, signal });
      await ping.body.dump();
      const v = ping.headers['x-influxdb-version'];
      if (typeof v === 'string' && v) version = v;
      if (ping.statusCode !== 204 && ping.statusCode !== 200) return this.failed(`ping answered ${ping.statusCode}`, version);
      step = 'SHOW DATABASES';
      const query = await this.client.request({
        path: `${this.client.pathPrefix}/query?q=${encodeURIComponent('SHOW DATABASES')}`,
        method: 'GET',
        headers,
        signal,
      });
      const text = await query.body.text();
      const error = queryError(query.statusCode, text);
      if (error) return this.failed(`SHOW DATABASES answered ${query.statusCode}: ${error}`, version);
      return { ok: true, version, at: Date.now() };
    } catch (err) {
      return this.failed(`${step}: ${describe(err, this.timeoutMs)}`, version);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private failed(error: string, version: string | undefined): ProbeResult {
    return { ok: false, error, version, at: Date.now() };
  }
}

/** influxd answers a statement error with 200 and `results[0].error`; anything but a clean 200 is a failure. */
function queryError(status: number, text: string): string | undefined {
  let parsed: { error?: unknown; results?: { error?: unknown }[] } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return status === 200 ? 'not a JSON answer' : text.trim() || `HTTP ${status}`;
  }
  if (typeof parsed?.error === 'string') return parsed.error;
  if (status !== 200) return `HTTP ${status}`;
  const statementError = parsed?.results?.[0]?.error;
  return typeof statementError === 'string' ? statementError : undefined;
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : String(e.message ?? err);
}
