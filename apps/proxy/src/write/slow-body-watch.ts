import { writeInfluxError } from '@app/http-compat';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { BodyProgress } from './receive-body';

/** A body may take this long before its rate is judged (a slow start on a busy link is fine). */
export const BODY_RATE_GRACE_MS = 10_000;

/**
 * The rule for a write body still arriving, on node:http's path (SlowBodyWatch) and the raw write
 * front's alike: slower than `minRate` B/s, averaged from its start, once BODY_RATE_GRACE_MS have
 * passed (a `minRate` of 0 judges nothing).
 */
export function bodyTooSlow(received: number, minRate: number, elapsedMs: number): boolean {
  return minRate > 0 && elapsedMs >= BODY_RATE_GRACE_MS && received < (minRate * elapsedMs) / 1000;
}

/** The error text of the 408 that ends such a body. */
export function bodyTooSlowMessage(received: number, minRate: number, elapsedMs: number): string {
  const rate = Math.round((received * 1000) / elapsedMs);
  return `request body too slow: ${received} bytes in ${Math.round(elapsedMs / 1000)} s (${rate} B/s, minimum ${minRate} B/s)`;
}

/** The warning for the bodies ended that way since the last one (one a sweep). */
export function bodiesTooSlowWarning(ended: number): string {
  return `ended ${ended} write bodies arriving slower than minBodyRate (408, connection closed)`;
}
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
    const tooSlow = this.bodies.filter((b) => bodyTooSlow(b.received, b.minRate, now - b.startedAt));
    for (const b of tooSlow) {
      this.unwatch(b);
      b.tooSlow = true;
      this.endedSinceLog++;
      if (!b.res.headersSent) {
        writeInfluxError(b.res, 408, bodyTooSlowMessage(b.received, b.minRate, now - b.startedAt), { ...b.headers, Connection: 'close' });
      }
      const socket = b.req.socket;
      if (b.res.writableFinished) socket.destroy();
      else b.res.once('finish', () => socket.destroy());
    }
    if (this.endedSinceLog > 0) {
      this.logger.warn(bodiesTooSlowWarning(this.endedSinceLog));
      this.endedSinceLog = 0;
    }
    if (this.bodies.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
