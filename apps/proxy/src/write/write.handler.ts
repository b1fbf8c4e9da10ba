import { BufferPool, type WriteOutcome } from '@app/backend';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import { isValidPrecision, timestampFor } from '@app/line-protocol';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { BodyError, receiveBody } from './receive-body';
import { LineRouter, type RoutedLines } from './route-lines';
import { WriteStats } from './write-stats';

/**
 * POST /write: receive → scan → route → batch → send. Answers 204 only once every backend that the
 * request's lines route to has acknowledged them; otherwise the error the way influxd words it.
 */
@Injectable()
export class WriteHandler {
  private readonly logger = new Logger(WriteHandler.name);
  private readonly router: LineRouter;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly stats: WriteStats,
    private readonly pool: BufferPool,
  ) {
    this.router = new LineRouter(pool);
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, requestId: string): Promise<void> {
    const receivedAt = Date.now();
    const receivedHr = process.hrtime.bigint();
    const topology = this.cluster.topology;
    const headers = influxHeaders(topology.version, requestId);
    if (req.method !== 'POST') {
      if (req.method === 'OPTIONS') return endEmpty(res, 204, headers);
      return writeMethodNotAllowed(res, 'OPTIONS, POST', headers);
    }
    this.stats.requests++;
    const precision = query.get('precision') ?? '';
    if (!isValidPrecision(precision)) {
      return drainThen(req, () =>
        writeInfluxError(res, 400, `invalid precision "${precision}" (use n, u, ms, s, m or h)`, headers),
      );
    }
    const db = query.get('db') ?? '';
    if (db === '') return drainThen(req, () => writeInfluxError(res, 400, 'database is required', headers));
    if (topology.node.db !== '' && db !== topology.node.db) {
      return drainThen(req, () => writeInfluxError(res, 404, `database not found: ${JSON.stringify(db)}`, headers));
    }
    const rp = query.get('rp') ?? '';

    let body: Buffer;
    try {
      body = await receiveBody(req, this.pool);
    } catch (err) {
      if (err instanceof BodyError) {
        if (err.status === 413) res.setHeader('Connection', 'close');
        return writeInfluxError(res, err.status, err.message, headers);
      }
      throw err;
    }

    const routed = this.router.route(body, topology, () =>
      Buffer.from(timestampFor(receivedAt, receivedHr, precision), 'latin1'),
    );
    if (!routed.bodyTaken) this.pool.release(body);
    this.count(routed);
    const pending: Promise<WriteOutcome>[] = [];
    const names: string[] = [];
    for (const part of routed.parts) {
      const backend = topology.backends[part.backend];
      pending.push(backend.batcher.append(rp, precision, part.body, part.lines));
      names.push(backend.name);
    }
    if (topology.node.ackMode === 'buffered') {
      // the client chose latency: answer now; failures are still spooled, and logged here
      void Promise.all(pending).then((outcomes) => this.logFailures(outcomes, names, requestId));
      return this.answer(res, headers, routed, [], [], requestId);
    }
    const outcomes = await Promise.all(pending);
    this.answer(res, headers, routed, outcomes, names, requestId);
  }

  private logFailures(outcomes: WriteOutcome[], names: string[], requestId: string): void {
    outcomes.forEach((o, i) => {
      if (o.kind === 'ok') return;
      this.stats.droppedAfterBufferedAck++;
      this.logger.error(`buffered write ${requestId}: backend ${names[i]} lost a batch: ${o.error}`);
    });
  }

  private answer(
    res: ServerResponse,
    headers: OutgoingHttpHeaders,
    routed: RoutedLines,
    outcomes: WriteOutcome[],
    names: string[],
    requestId: string,
  ): void {
    let rejected: Extract<WriteOutcome, { kind: 'rejected' }> | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (o.kind === 'unavailable') {
        this.stats.backendUnavailable++;
        this.logger.warn(`write ${requestId}: ${o.error}; answering 503`);
        return writeInfluxError(res, 503, o.error, headers);
      }
      if (o.kind === 'rejected') {
        this.stats.backendRejected++;
        this.logger.warn(`write ${requestId}: backend ${names[i]} refused a batch (${o.status}): ${o.error}`);
        rejected ??= o;
      }
    }
    if (rejected) return writeInfluxError(res, rejected.status, rejected.error, headers);
    if (routed.dropped > 0) {
      this.logger.warn(
        `write ${requestId}: dropped ${routed.dropped} lines (${routed.unroutable} without a backend): ${routed.failed[0]}`,
      );
      const reasons = routed.failed.join('\n');
      const message = routed.accepted === 0 ? reasons : `partial write: ${reasons} dropped=${routed.dropped}`;
      return writeInfluxError(res, 400, message, headers);
    }
    endEmpty(res, 204, headers);
  }

  private count(routed: RoutedLines): void {
    this.stats.linesAccepted += routed.accepted;
    this.stats.droppedUnroutable += routed.unroutable;
    this.stats.droppedUnparsable += routed.dropped - routed.unroutable;
  }
}

function endEmpty(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, headers);
  res.end();
}

/** Answers after the body is consumed, so the keep-alive connection stays usable. */
function drainThen(req: IncomingMessage, answer: () => void): void {
  if (req.complete) return answer();
  req.resume();
  req.once('end', answer);
  req.once('error', answer);
}
