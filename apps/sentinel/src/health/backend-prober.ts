import { BackendClient, type WholeAnswer, describeError, errorTextOf } from '@app/backend';
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
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const noAnswer = `no answer within ${this.timeoutMs} ms`;
    const ping = await this.client.ping(deadline);
    if (!ping.ok) {
      // an answer other than 204 says so itself; no answer says which step got none
      if (ping.status !== undefined) return this.failed(ping.error ?? `ping answered ${ping.status}`, ping.version);
      return this.failed(`ping: ${deadline.aborted ? noAnswer : ping.error}`, undefined);
    }
    const version = ping.version;
    let answer: WholeAnswer;
    try {
      answer = await this.client.query({ method: 'GET', text: 'SHOW DATABASES', db: false }, { signal: deadline });
    } catch (err) {
      return this.failed(`SHOW DATABASES: ${deadline.aborted ? noAnswer : describeError(err)}`, version);
    }
    const error = queryError(answer.status, answer.body.toString('utf8'));
    if (error) return this.failed(`SHOW DATABASES answered ${answer.status}: ${error}`, version);
    return { ok: true, version, at: Date.now() };
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
  if (status !== 200) return errorTextOf(status, text);
  let parsed: { error?: unknown; results?: { error?: unknown }[] } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return 'not a JSON answer';
  }
  if (typeof parsed?.error === 'string') return parsed.error;
  const statementError = parsed?.results?.[0]?.error;
  return typeof statementError === 'string' ? statementError : undefined;
}
