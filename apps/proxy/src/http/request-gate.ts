import { type AuthResult, Authenticator, parseCredentials } from '@app/auth';
import { influxHeaders } from '@app/http-compat';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { type Access, accessFor } from './access-policy';
import { writeEarlyError } from './early-answer';
import { rememberUser } from './query-privileges';
import type { CounterCell } from '../metrics/hot-metrics';
import { ProxyMetrics } from '../metrics/proxy-metrics';

/** How a password check ended (the `result` label of auth_checks_total). */
type AuthOutcome = 'remembered' | 'verified' | 'failed' | 'rate_limited' | 'busy';

/** influxd's throttle text (services/httpd/handler.go, Throttler). */
export const THROTTLED = 'request throttled, queue full';

/** Paths that stay answerable under load: probes must see an overloaded proxy as alive. */
const UNCOUNTED = new Set(['/ping', '/health', '/metrics']);

/** At most this many refusals are logged per LOG_WINDOW_MS; the rest are counted and summed up. */
const LOG_BURST = 20;
const LOG_WINDOW_MS = 10_000;

/**
 * What every request passes before a handler sees it: authentication (when the proxy's config enables
 * it), then the cap on requests served at once. Answers the refusals itself, the way influxd words
 * them: 401 with `WWW-Authenticate: Basic realm="InfluxDB"` and no X-Influxdb-Error, 403 for a user
 * who is not an admin, 503 `request throttled, queue full` with Retry-After.
 *
 * Authentication comes first (influxd throttles first): a request waiting for its password check
 * holds no slot of maxConcurrentRequests, so a flood of wrong passwords — bounded by the
 * Authenticator's queue and per-address limits — cannot take the slots of clients already logged in,
 * whose remembered credentials are checked at once.
 */
@Injectable()
export class RequestGate {
  private readonly logger = new Logger(RequestGate.name);
  private readonly auth = new Authenticator();
  private active = 0;
  private readonly finished = () => this.leave();
  private logged = 0;
  private suppressed = 0;
  private windowStart = 0;
  private readonly authCounts: Record<AuthOutcome, CounterCell>;

  constructor(
    private readonly cluster: ClusterStateService,
    metrics: ProxyMetrics,
  ) {
    this.authCounts = {
      remembered: metrics.authChecks.labels('remembered'),
      verified: metrics.authChecks.labels('verified'),
      failed: metrics.authChecks.labels('failed'),
      rate_limited: metrics.authChecks.labels('rate_limited'),
      busy: metrics.authChecks.labels('busy'),
    };
  }

  /** Requests being served now (those on UNCOUNTED paths aside). */
  get inFlight(): number {
    return this.active;
  }

  /**
   * true: go on at once; false: answered here; a promise: the answer once the password is checked
   * (a first sight of a password costs one scrypt; later ones are checked from memory).
   */
  admit(req: IncomingMessage, res: ServerResponse, path: string, search: string, requestId: string): boolean | Promise<boolean> {
    const node = this.cluster.topology.node;
    const access = accessFor(path, req.method, node);
    if (access === 'open') return this.take(req, res, path, requestId);
    const creds = parseCredentials(new URLSearchParams(search), req.headers.authorization);
    const fast = this.auth.tryFast(creds, node.users);
    if (fast) {
      if (fast.ok) this.authCounts.remembered.inc();
      return this.decide(fast, access, req, res, path, requestId);
    }
    const client = {
      address: req.socket.remoteAddress ?? '',
      limits: { burst: node.authFailureBurst, perMinute: node.authFailuresPerMinute },
    };
    return this.auth.authenticate(creds, node.users, client).then((result) => {
      this.authCounts[outcomeOf(result)].inc();
      return this.decide(result, access, req, res, path, requestId);
    });
  }

  /**
   * Takes a slot of maxConcurrentRequests, or returns false when none is free; give it back with
   * leave(). take() answers a refusal with 503; the raw write front (which serves only what needs no
   * password) hands the request to node:http instead, which comes here and gets that 503.
   */
  takeSlot(): boolean {
    if (this.active >= this.cluster.topology.node.maxConcurrentRequests) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
  }

  /** The cap on requests in flight; true when this one may be served. */
  private take(req: IncomingMessage, res: ServerResponse, path: string, requestId: string): boolean {
    if (UNCOUNTED.has(path)) return true;
    if (!this.takeSlot()) {
      this.note(`${this.active} requests in flight (maxConcurrentRequests): answering 503 to ${req.method} ${path}`, requestId);
      writeEarlyError(req, res, 503, THROTTLED, { ...this.headers(requestId), 'Retry-After': '1' });
      return false;
    }
    res.on('close', this.finished); // a response closes once: no once() wrapper needed
    return true;
  }

  private decide(result: AuthResult, access: Access, req: IncomingMessage, res: ServerResponse, path: string, requestId: string): boolean {
    if (res.destroyed) return false;
    if (!result.ok && result.refused === 'busy') {
      this.note(
        `request ${requestId} ${req.method} ${path} from ${req.socket.remoteAddress}: 503, too many password checks waiting`,
        requestId,
      );
      writeEarlyError(req, res, 503, THROTTLED, { ...this.headers(requestId), 'Retry-After': '1' });
      return false;
    }
    if (!result.ok) {
      this.note(`request ${requestId} ${req.method} ${path} from ${req.socket.remoteAddress}: 401 ${result.error}`, requestId);
      writeEarlyError(req, res, 401, result.error, {
        ...this.headers(requestId),
        'WWW-Authenticate': 'Basic realm="InfluxDB"',
      });
      return false;
    }
    if (access === 'admin' && !result.admin) {
      const message = `${JSON.stringify(result.username)} user is not authorized: ${path} requires admin privilege`;
      this.note(`request ${requestId}: 403 ${message}`, requestId);
      writeEarlyError(req, res, 403, message, this.headers(requestId));
      return false;
    }
    rememberUser(req, result); // /query checks admin-only statements against it
    return this.take(req, res, path, requestId);
  }

  private headers(requestId: string) {
    return influxHeaders(this.cluster.topology.version, requestId);
  }

  /** Logs refusals, at most LOG_BURST per window (a password-guessing client must not flood the log). */
  private note(message: string, reqId: string): void {
    const now = Date.now();
    if (now - this.windowStart >= LOG_WINDOW_MS) {
      if (this.suppressed > 0) this.logger.warn(`${this.suppressed} more refusals in the last ${LOG_WINDOW_MS / 1000} s not logged`);
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged++ < LOG_BURST) this.logger.warn({ msg: message, reqId });
    else this.suppressed++;
  }
}

function outcomeOf(result: AuthResult): AuthOutcome {
  if (result.ok) return 'verified';
  if (result.refused === 'rate-limited') return 'rate_limited';
  return result.refused ?? 'failed';
}
