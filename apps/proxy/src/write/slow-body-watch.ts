import { writeInfluxError } from '@app/http-compat';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { BodyProgress } from './receive-body';

/** A body may take this long before its rate is judged (a slow start on a busy link is fine). */
export const BODY_RATE_GRACE_MS = 10_000;
const SWEEP_MS = 1_000;

/** One write body being received. */
export interface WatchedBody extends BodyProgress {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly headers: OutgoingHttpHeaders;
  readonly startedAt: number;
  readonly minRate: number;
  /** Set when the watch answered 408 and closed the connection. */
  tooSlow: boolean;
  /** Where it sits in the watch's list (-1: not watched). */
  slot: number;
}

/**
 * Ends write bodies that arrive slower than the proxy's `minBodyRate` (bytes/s, averaged from the
 * start of the body once BODY_RATE_GRACE_MS have passed) with 408 and a closed connection: a client
 * that trickles a large body holds a socket and a request slot, which `requestTimeout` alone would
 * let it keep for minutes. One sweep a second over the bodies in progress; nothing per chunk.
 */
@Injectable()
export class SlowBodyWatch implements OnModuleDestroy {
  private readonly logger = new Logger(SlowBodyWatch.name);
  /**
   * The bodies in progress, removed by swapping the last into the gap: a Set's add and delete for every
   * write request were 2 % of a one-point write's CPU.
   */
  private readonly bodies: WatchedBody[] = [];
  private timer?: NodeJS.Timeout;
  private endedSinceLog = 0;

  watch(req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, minRate: number): WatchedBody {
    const body: WatchedBody = { req, res, headers, startedAt: Date.now(), minRate, received: 0, tooSlow: false, slot: -1 };
    if (minRate > 0) {
      body.slot = this.bodies.length;
      this.bodies.push(body);
      if (!this.timer) {
        this.timer = setInterval(() => this.sweep(), SWEEP_MS);
        this.timer.unref();
      }
    }
    return body;
  }

  unwatch(body: WatchedBody): void {
    const slot = body.slot;
    if (slot < 0) return;
    body.slot = -1;
    const last = this.bodies.pop()!;
    if (last !== body) {
      this.bodies[slot] = last;
      last.slot = slot;
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = Date.now();
    const tooSlow = this.bodies.filter((b) => {
      const elapsed = now - b.startedAt;
      return elapsed >= BODY_RATE_GRACE_MS && b.received < (b.minRate * elapsed) / 1000;
    });
    for (const b of tooSlow) {
      const elapsed = now - b.startedAt;
      this.unwatch(b);
      b.tooSlow = true;
      this.endedSinceLog++;
      const rate = Math.round((b.received * 1000) / elapsed);
      if (!b.res.headersSent) {
        writeInfluxError(
          b.res,
          408,
          `request body too slow: ${b.received} bytes in ${Math.round(elapsed / 1000)} s (${rate} B/s, minimum ${b.minRate} B/s)`,
          { ...b.headers, Connection: 'close' },
        );
      }
      const socket = b.req.socket;
      if (b.res.writableFinished) socket.destroy();
      else b.res.once('finish', () => socket.destroy());
    }
    if (this.endedSinceLog > 0) {
      this.logger.warn(`ended ${this.endedSinceLog} write bodies arriving slower than minBodyRate (408, connection closed)`);
      this.endedSinceLog = 0;
    }
    if (this.bodies.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
