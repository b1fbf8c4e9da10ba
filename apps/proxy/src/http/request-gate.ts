import { type AuthResult, Authenticator, parseCredentials } from '@app/auth';
import { influxHeaders } from '@app/http-compat';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { type Access, accessFor } from './access-policy';
import { writeEarlyError } from './early-answer';
import { rememberUser } from './query-privileges';

/** influxd's throttle text (services/httpd/handler.go, Throttler). */
export const THROTTLED = 'request throttled, queue full';

/** Paths that stay answerable under load: probes must see an overloaded proxy as alive. */
const UNCOUNTED = new Set(['/ping', '/health', '/metrics']);

/** At most this many refusals are logged per LOG_WINDOW_MS; the rest are counted and summed up. */
const LOG_BURST = 20;
const LOG_WINDOW_MS = 10_000;

/**
 * What every request passes before a handler sees it: the cap on requests served at once, then
 * authentication (when the proxy's config enables it). Answers the refusals itself, the way influxd
 * words them: 401 with `WWW-Authenticate: Basic realm="InfluxDB"` and no X-Influxdb-Error, 403 for a
 * user who is not an admin, 503 `request throttled, queue full` with Retry-After.
 */
@Injectable()
export class RequestGate {
  private readonly logger = new Logger(RequestGate.name);
  private readonly auth = new Authenticator();
  private active = 0;
  private readonly finished = () => {
    this.active--;
  };
  private logged = 0;
  private suppressed = 0;
  private windowStart = 0;

  constructor(private readonly cluster: ClusterStateService) {}

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
    if (!UNCOUNTED.has(path)) {
      if (this.active >= node.maxConcurrentRequests) {
        this.note(`${this.active} requests in flight (maxConcurrentRequests): answering 503 to ${req.method} ${path}`, requestId);
        writeEarlyError(req, res, 503, THROTTLED, { ...this.headers(requestId), 'Retry-After': '1' });
        return false;
      }
      this.active++;
      res.once('close', this.finished);
    }
    const access = accessFor(path, req.method, node);
    if (access === 'open') return true;
    const creds = parseCredentials(new URLSearchParams(search), req.headers.authorization);
    const fast = this.auth.tryFast(creds, node.users);
    if (fast) return this.decide(fast, access, req, res, path, requestId);
    return this.auth
      .authenticate(creds, node.users)
      .then((result) => this.decide(result, access, req, res, path, requestId));
  }

  private decide(
    result: AuthResult,
    access: Access,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    requestId: string,
  ): boolean {
    if (res.destroyed) return false;
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
    return true;
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
