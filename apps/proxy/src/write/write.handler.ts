import { type Backend, BufferPool, type WriteOutcome } from '@app/backend';
import { backendDatabase } from '@app/config';
import { type AnswerTarget, influxHeaders, writeInfluxError } from '@app/http-compat';
import { type Precision, timestampFor, writePrecisionOf } from '@app/line-protocol';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import type { Topology } from '../cluster/topology';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { RequestObserver } from '../http/request-observer';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { BodyError, receiveBody } from './receive-body';
import { type PartRefusal, influxWriteError } from './write-error';
import { WriteBudget, type WriteHold } from './write-budget';
import { SlowBodyWatch } from './slow-body-watch';
import { type BackendPart, LineRouter, type RoutedLines } from './route-lines';
import { writeParamsOf } from './write-params';

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
    private readonly pool: BufferPool,
    private readonly metrics: ProxyMetrics,
    private readonly observer: RequestObserver,
    private readonly budget: WriteBudget,
    private readonly slowBodies: SlowBodyWatch,
  ) {
    this.router = new LineRouter(pool);
  }

  /** @param search the query string, after '?' */
  async handle(req: IncomingMessage, res: ServerResponse, search: string, requestId: string): Promise<void> {
    const headers = influxHeaders(this.cluster.topology.version, requestId);
    if (req.method !== 'POST') {
      if (req.method === 'OPTIONS') return endEmpty(res, 204, headers);
      return writeMethodNotAllowed(res, 'OPTIONS, POST', headers);
    }
    this.metrics.writeRequests.inc();
    const { db, rp, precision: given } = writeParamsOf(search);
    const precision = writePrecisionOf(given);
    if (precision === undefined) return drainThen(req, () => writeInfluxError(res, 400, invalidPrecision(given), headers));
    return this.writeTo(req, res, db, rp, precision, requestId, headers);
  }

  /** A buffer for a write body the raw write front reads as it arrives (writeRead takes it over). */
  acquireBody(bytes: number): Buffer {
    return this.pool.acquire(bytes);
  }

  /** Gives back a body from acquireBody() that will not be served (its client went away). */
  releaseBody(body: Buffer): void {
    this.pool.release(body);
  }

  /**
   * A /write the raw write front read whole (its body charged to `hold`): the same checks and stages
   * as handle() and writeTo(), answered on `res`. Takes `body` over.
   */
  async writeRead(
    res: AnswerTarget,
    search: string,
    body: Buffer,
    hold: WriteHold,
    requestId: string,
    headers: OutgoingHttpHeaders,
  ): Promise<void> {
    const receivedAt = Date.now();
    const receivedHr = process.hrtime.bigint();
    this.metrics.writeRequests.inc();
    const { db, rp, precision: given } = writeParamsOf(search);
    const precision = writePrecisionOf(given);
    if (precision === undefined) return writeInfluxError(res, 400, invalidPrecision(given), headers);
    const refusal = this.dbRefusal(db);
    if (refusal) return writeInfluxError(res, refusal.status, refusal.message, headers);
    return this.writeReceived(res, headers, body, hold, { db, rp, precision, receivedAt, receivedHr, requestId });
  }

  /**
   * The stages after a front door has read its parameters (/write, /api/v2/write): the db checks,
   * receive → scan → route → batch → send, and the answer. `precision` is already a valid one.
   */
  async writeTo(
    req: IncomingMessage,
    res: ServerResponse,
    db: string,
    rp: string,
    precision: Precision | '',
    requestId: string,
    headers: OutgoingHttpHeaders = influxHeaders(this.cluster.topology.version, requestId),
  ): Promise<void> {
    const receivedAt = Date.now();
    const receivedHr = process.hrtime.bigint();
    const topology = this.cluster.topology;
    const refusal = this.dbRefusal(db);
    if (refusal) return drainThen(req, () => writeInfluxError(res, refusal.status, refusal.message, headers));

    // memory cap (maxBufferedWriteBytes): 503 before the body is read when it would be passed
    const limit = topology.node.maxBufferedWriteBytes;
    const hold = this.budget.admit(req, res, limit, headers);
    if (!hold) return;
    const body = await this.receive(req, res, headers, hold, limit, requestId);
    if (body === undefined) return; // answered, or the client went away
    if (!this.budget.resize(hold, body.length, limit, req, res, headers)) return this.pool.release(body);
    return this.writeReceived(res, headers, body, hold, { db, rp, precision, receivedAt, receivedHr, requestId });
  }

  /** influxd's answer to a write for no db, or for one this proxy does not serve. */
  private dbRefusal(db: string): { status: number; message: string } | undefined {
    if (db === '') return { status: 400, message: 'database is required' };
    if (!this.cluster.topology.routers.serves(db)) return { status: 404, message: `database not found: ${JSON.stringify(db)}` };
    return undefined;
  }

  /**
   * Reads a write's body into a pooled buffer, charged to `hold` as it arrives (up to `limit`) and
   * watched for a too slow sender: the front doors that take write bodies (/write, /api/v2/write,
   * Prometheus remote write) share it. Undefined when the request was answered (413, 503, 408, a
   * broken gzip) or the client went away mid-body.
   */
  async receive(
    req: IncomingMessage,
    res: ServerResponse,
    headers: OutgoingHttpHeaders,
    hold: WriteHold,
    limit: number,
    requestId: string,
  ): Promise<Buffer | undefined> {
    const progress = this.slowBodies.watch(req, res, headers, this.cluster.topology.node.minBodyRate);
    try {
      return await receiveBody(req, this.pool, (bytes) => hold.grow(bytes, limit), progress);
    } catch (err) {
      if (err instanceof BodyError) {
        if (err.unread) res.setHeader('Connection', 'close');
        if (err.status === 503) res.setHeader('Retry-After', '1');
        writeInfluxError(res, err.status, err.message, headers);
        return undefined;
      }
      if (progress.tooSlow) return undefined; // answered 408 by the watch, connection closed
      if (req.destroyed || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET') {
        // the client went away mid-body: its business, not an error of ours (and cheap to cause in bulk)
        this.metrics.clientAbortedWrites.inc();
        this.logger.debug({ msg: `write ${requestId}: the client went away after ${progress.received} body bytes`, reqId: requestId });
        return undefined;
      }
      throw err;
    } finally {
      this.slowBodies.unwatch(progress);
    }
  }

  /**
   * Route → batch → send for a line-protocol body already received (and charged to `hold`), answered
   * as /write answers: 204 once every target backend acknowledged or spooled its lines, else the
   * error the way influxd words it. /write ends here, and so do the protocols the proxy turns into
   * line protocol (Prometheus remote write), so they share routing, replication, spool and metrics.
   * Takes `body` over (released to the pool, or handed to a batcher).
   */
  async writeReceived(res: AnswerTarget, headers: OutgoingHttpHeaders, body: Buffer, hold: WriteHold, write: ReceivedWrite): Promise<void> {
    const { db, receivedAt, receivedHr, precision } = write;
    const topology = this.cluster.topology;
    // a proxy serving several databases routes per client db (keys and hash include it); null: not served
    const router = topology.routers.multiDb ? topology.routers.forDb(db) : topology.router;
    const routed = this.router.route(body, topology, () => Buffer.from(timestampFor(receivedAt, receivedHr, precision), 'latin1'), router);
    if (!routed.bodyTaken) this.pool.release(body);
    return this.writeRouted(res, headers, routed, hold, write, topology);
  }

  /**
   * Batch → send → answer for lines already routed against `topology` (writeReceived's stages after
   * its route stage), for a front door that routes its lines itself (Prometheus remote write routes each
   * series' lines without scanning them): the same batching, spool, metrics and answer as /write.
   */
  async writeRouted(
    res: AnswerTarget,
    headers: OutgoingHttpHeaders,
    routed: RoutedLines,
    hold: WriteHold,
    write: ReceivedWrite,
    topology: Topology,
  ): Promise<void> {
    const { db, rp, precision, requestId } = write;
    this.count(routed);
    this.observer.writeLines(res, db, routed.accepted + routed.dropped);
    if (topology.node.ackMode === 'buffered') {
      // the client chose latency: answer now; failures are still spooled, and counted and logged as
      // each part's outcome comes back
      this.queueAnswered(topology, routed, rp, precision, db, hold, requestId);
      return this.answer(res, headers, routed, [], [], requestId);
    }
    const { pending, names } = this.queue(topology, routed, rp, precision, db);
    hold.releaseWhen(pending);
    // one backend (the common case): no Promise.all and its array
    const outcomes = pending.length === 1 ? [await pending[0]] : await Promise.all(pending);
    // (no await on the common path: a refusal is rare)
    if (outcomes.length > 1 && outcomes.some(isRejection)) await this.keepWhatReplicasTook(topology, routed, rp, precision, outcomes, db);
    this.answer(res, headers, routed, outcomes, names, requestId);
  }

  /**
   * A part that one backend refused as the client's fault while another backend of the same request
   * wrote the same lines (the same line count and bytes): the refusal is that backend's state (an rp
   * or a field type it alone has), not the request's. Its lines are kept in its spool, and it is
   * marked refusing, as for a backend whose database is missing. Replaces those outcomes in place.
   */
  private async keepWhatReplicasTook(
    topology: Topology,
    routed: RoutedLines,
    rp: string,
    precision: string,
    outcomes: WriteOutcome[],
    clientDb: string,
  ): Promise<void> {
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (o.kind !== 'rejected' || !o.body) continue;
      const part = routed.parts[i];
      const length = o.body.length;
      const tookThem = routed.parts.some((other, j) => {
        const took = outcomes[j];
        return j !== i && took.kind === 'ok' && !took.spooled && other.lines === part.lines && other.body.length === length;
      });
      if (!tookThem) continue;
      const backend = topology.backends[part.backend];
      outcomes[i] = await backend.keepForLater(rp, precision, o.body, part.lines, o, backendDbOf(topology, backend, clientDb));
    }
  }

  /**
   * Writes lines the proxy makes itself (the self-report) through the same route and batch stages as
   * a client's, without HTTP. Resolves with each target backend's outcome; unroutable lines are dropped.
   */
  async writeLocal(
    body: Buffer,
    rp = '',
    precision: Precision | '' = '',
    db?: string,
  ): Promise<{ backend: string; outcome: WriteOutcome }[]> {
    const topology = this.cluster.topology;
    const receivedAt = Date.now();
    const receivedHr = process.hrtime.bigint();
    // SELECT … INTO on a proxy serving several databases names its db; the self-report names none
    const router = db !== undefined && topology.routers.multiDb ? topology.routers.forDb(db) : topology.router;
    const stamp = () => Buffer.from(timestampFor(receivedAt, receivedHr, precision), 'latin1');
    const routed = this.router.route(body, topology, stamp, router);
    const { pending, names } = this.queue(topology, routed, rp, precision, db ?? '');
    const outcomes = await Promise.all(pending);
    return outcomes.map((outcome, i) => ({ backend: names[i], outcome }));
  }

  /**
   * Batch stage: hands each backend its part; counts the lines routed to it. A proxy serving several
   * databases names each part's backend db (the client's, or as the backend's dbMap maps it); a
   * single-database one leaves it '' (the backend's own db), keeping its batches keyed as before.
   */
  private queue(
    topology: Topology,
    routed: RoutedLines,
    rp: string,
    precision: string,
    clientDb = '',
  ): { pending: Promise<WriteOutcome>[]; names: string[] } {
    const pending: Promise<WriteOutcome>[] = [];
    const names: string[] = [];
    for (const part of routed.parts) {
      pending.push(new Promise((resolve) => this.handOver(topology, part, rp, precision, clientDb, resolve)));
      names.push(topology.backends[part.backend].name);
    }
    return { pending, names };
  }

  /** Hands one part to its backend's batcher, counted as routed there; `answered` gets its outcome. */
  private handOver(
    topology: Topology,
    part: BackendPart,
    rp: string,
    precision: string,
    clientDb: string,
    answered: (outcome: WriteOutcome) => void,
  ): Backend {
    const backend = topology.backends[part.backend];
    this.metrics.forBackend(backend.name).routed.inc(part.lines);
    backend.batcher.add(rp, precision, part.body, part.lines, backendDbOf(topology, backend, clientDb), answered);
    return backend;
  }

  /**
   * The batch stage for a write answered before its batches are sent (`ackMode: buffered`): each part's
   * outcome comes back by callback, not as a promise per part (nothing waits on it, and a one-point
   * write's promises were a good share of its cost). The hold is given back once every part is answered.
   */
  private queueAnswered(
    topology: Topology,
    routed: RoutedLines,
    rp: string,
    precision: string,
    clientDb: string,
    hold: WriteHold,
    requestId: string,
  ): void {
    hold.handOff();
    let left = routed.parts.length;
    if (left === 0) return hold.release();
    for (const part of routed.parts) {
      const backend = this.handOver(topology, part, rp, precision, clientDb, (outcome) => {
        if (outcome.kind !== 'ok') this.lostAfterAck(backend.name, outcome, requestId);
        if (--left === 0) hold.release();
      });
    }
  }

  private lostAfterAck(backend: string, outcome: WriteOutcome & { error: string }, requestId: string): void {
    this.metrics.forBackend(backend).lostAfterAck.inc();
    this.logger.error({ msg: `buffered write ${requestId}: backend ${backend} lost a batch: ${outcome.error}`, reqId: requestId });
  }

  private answer(
    res: AnswerTarget,
    headers: OutgoingHttpHeaders,
    routed: RoutedLines,
    outcomes: WriteOutcome[],
    names: string[],
    requestId: string,
  ): void {
    let refusals: PartRefusal[] | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (o.kind === 'unavailable') {
        this.metrics.writesUnavailable.inc();
        this.logger.warn({ msg: `write ${requestId}: ${o.error}; answering 503`, reqId: requestId });
        return writeInfluxError(res, 503, o.error, headers);
      }
      if (o.kind === 'rejected' || o.kind === 'refused') {
        this.metrics.writePartsRefused.inc();
        this.logger.warn({
          msg: `write ${requestId}: backend ${names[i]} refused its lines (${o.status}): ${o.error}`,
          reqId: requestId,
        });
        (refusals ??= []).push({ status: o.status, error: o.error, lines: routed.parts[i]?.lines ?? 0 });
      }
    }
    if (!refusals && routed.dropped === 0) return endEmpty(res, 204, headers);
    if (routed.dropped > 0) {
      this.logger.warn({
        msg: `write ${requestId}: dropped ${routed.dropped} lines (${routed.unroutable} without a backend): ${routed.failed[0]}`,
        reqId: requestId,
      });
    }
    const answer = influxWriteError(routed, refusals ?? []);
    writeInfluxError(res, answer.status, answer.error, headers);
  }

  private count(routed: RoutedLines): void {
    const m = this.metrics;
    m.pointsReceived.inc(routed.accepted + routed.dropped);
    if (routed.unroutable > 0) m.droppedUnroutable.inc(routed.unroutable);
    if (routed.dropped > routed.unroutable) m.droppedUnparsable.inc(routed.dropped - routed.unroutable);
  }
}

function invalidPrecision(given: string): string {
  return `invalid precision "${given}" (use n, u, ms, s, m or h)`;
}

/** What writeReceived needs to know about the request a body came with. */
export interface ReceivedWrite {
  db: string;
  rp: string;
  /** The lines' timestamp precision ('' = ns). */
  precision: Precision | '';
  /** When the request arrived (Date.now() and hrtime): the time of lines without a timestamp. */
  receivedAt: number;
  receivedHr: bigint;
  requestId: string;
}

function endEmpty(res: AnswerTarget, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, headers);
  res.end();
}

/** Answers after the body is consumed, so the keep-alive connection stays usable. */
export function drainThen(req: IncomingMessage, answer: () => void): void {
  if (req.complete) return answer();
  req.resume();
  req.once('end', answer);
  req.once('error', answer);
}

/** The db a part for `backend` is written to: '' (its own `db`) unless the proxy serves several databases. */
function backendDbOf(topology: Topology, backend: Backend, clientDb: string): string {
  return topology.routers.multiDb ? backendDatabase(backend.config, clientDb, true) : '';
}

function isRejection(o: WriteOutcome): boolean {
  return o.kind === 'rejected';
}
