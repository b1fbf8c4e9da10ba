import { Injectable } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { writeEarlyError } from '../http/early-answer';
import { SMALL_BODY_BYTES, WRITE_BUFFER_FULL } from './receive-body';

export { WRITE_BUFFER_FULL };

/** The bytes one write request holds in memory, from admission until its batches are answered. */
export class WriteHold {
  private handedOff = false;
  private released = false;

  constructor(
    private readonly budget: WriteBudget,
    public bytes: number,
  ) {}

  /** Gives the bytes back (once). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.bytes);
  }

  /** From now on the holder gives the bytes back with release() once the batches carrying them are answered. */
  handOff(): void {
    this.handedOff = true;
  }

  /** From now on the bytes are given back when every batch carrying them has been answered. */
  releaseWhen(pending: readonly Promise<unknown>[]): void {
    this.handOff();
    const done = () => this.release();
    (pending.length === 1 ? pending[0] : Promise.all(pending)).then(done, done);
  }

  /** Charges `bytes` more as they arrive; false when the budget has no room for them. */
  grow(bytes: number, limit: number): boolean {
    if (!this.budget.take(bytes, limit, this.bytes)) return false;
    this.bytes += bytes;
    return true;
  }

  /** Whether the response closing should give the bytes back (nothing was handed to a batcher). */
  get orphaned(): boolean {
    return !this.handedOff;
  }
}

/**
 * The cap on write bytes held in memory: bodies being received and parsed, and the batches carrying
 * them until their backends answered (or the spool took them). A write that would pass the cap is
 * answered 503 before its body is read, so memory stays bounded when backends fall behind; clients
 * (Telegraf among them) retry a 503. One write is always admitted when nothing else is held, so a
 * body larger than the cap is slow, never refused forever.
 */
@Injectable()
export class WriteBudget {
  private held = 0;

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /**
   * Admits a write, or answers it 503 and returns undefined. A small body (declared up to
   * SMALL_BODY_BYTES) is charged its declared size now; a larger or chunked one nothing yet: it is
   * charged as its bytes arrive (WriteHold.grow), so a slow client that declares 22 MB and sends
   * 10 B/s holds 10 B/s of budget, not 22 MB. The hold is given back when the response closes unless
   * releaseWhen() took it over.
   */
  admit(req: IncomingMessage, res: ServerResponse, limit: number, headers: OutgoingHttpHeaders): WriteHold | undefined {
    const declared = Number(req.headers['content-length'] ?? -1);
    const bytes = declared >= 0 && declared <= SMALL_BODY_BYTES ? declared : 0;
    if (!this.take(bytes, limit)) {
      writeThrottled(req, res, headers);
      return undefined;
    }
    const hold = new WriteHold(this, bytes);
    // 'on', not 'once': a response closes once, and once() wraps every listener in a closure of its own
    res.on('close', () => {
      if (hold.orphaned) hold.release();
    });
    return hold;
  }

  /**
   * A hold of `bytes` for a body already read (the raw write front), or undefined when the budget has
   * no room (nothing is answered here). Its holder gives it back if no batch takes it over.
   */
  tryHold(bytes: number, limit: number): WriteHold | undefined {
    return this.take(bytes, limit) ? new WriteHold(this, bytes) : undefined;
  }

  /**
   * Re-sizes a hold to what the body really takes (inflated, or a chunked body's real length).
   * false (and a 503 sent) when growing it would pass the cap; the hold is then given back on close.
   */
  resize(hold: WriteHold, bytes: number, limit: number, req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders): boolean {
    const delta = bytes - hold.bytes;
    if (delta <= 0) {
      this.give(-delta);
      hold.bytes = bytes;
      return true;
    }
    if (this.held > hold.bytes && this.held + delta > limit) {
      writeThrottled(req, res, headers);
      return false;
    }
    this.held += delta;
    hold.bytes = bytes;
    return true;
  }

  /** @internal */
  give(bytes: number): void {
    this.held -= bytes;
  }

  /** @internal Takes `bytes` unless that passes `limit` while others (beyond `own`) hold something. */
  take(bytes: number, limit: number, own = 0): boolean {
    if (this.held > own && this.held + bytes > limit) return false;
    this.held += bytes;
    return true;
  }
}

/** 503 with influxd's throttle wording and Retry-After, before the body is read. */
export function writeThrottled(req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, message = WRITE_BUFFER_FULL): void {
  writeEarlyError(req, res, 503, message, { ...headers, 'Retry-After': '1' });
}
