import { BufferPool } from '@app/backend';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import {
  decodeWriteRequest,
  planLines,
  SampleValueError,
  SNAPPY_CORRUPT,
  samplesToLines,
  snappyDecodedLength,
  type LinesPlan,
  type SampleLines,
} from '@app/prom-remote';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { MAX_BODY_BYTES, MAX_INFLATED_BYTES } from '../write/receive-body';
import { WriteBudget, type WriteHold } from '../write/write-budget';
import { type ReceivedWrite, WriteHandler } from '../write/write.handler';
import { SeriesRouter } from './series-router';

const TOO_LARGE = 'Request Entity Too Large';

/**
 * POST /api/v1/prom/write?db=…[&rp=…]: Prometheus remote write. The body (a snappy block holding a
 * protobuf WriteRequest) is received like a /write body (size cap, write budget, slow-body watch),
 * decoded, and each sample turned into a line the way influxd 1.6 stores it (samples-to-lines.ts);
 * the lines then take /write's own path: routed by each metric's keymap (by series, without scanning
 * them again: series-router.ts; lines a scan might read otherwise go through WriteHandler.writeReceived's
 * own route stage), replicated, spooled for a backend that is down, and answered as /write answers (204
 * once every target backend acknowledged or spooled). Authentication is the request gate's, as for /write.
 */
@Injectable()
export class PrometheusWriteHandler {
  private readonly logger = new Logger(PrometheusWriteHandler.name);
  private readonly seriesRouter: SeriesRouter;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly pool: BufferPool,
    private readonly metrics: ProxyMetrics,
    private readonly budget: WriteBudget,
    private readonly writer: WriteHandler,
  ) {
    this.seriesRouter = new SeriesRouter(pool);
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, requestId: string): Promise<void> {
    const receivedAt = Date.now();
    const receivedHr = process.hrtime.bigint();
    const topology = this.cluster.topology;
    const headers = influxHeaders(topology.version, requestId);
    if (req.method !== 'POST') return writeMethodNotAllowed(res, 'POST', headers); // influxd's router: POST only
    this.metrics.writeRequests.inc();
    // influxd's checks, in its order (services/httpd/handler.go, servePromWrite); `precision` is not read
    const db = query.get('db') ?? '';
    if (db === '') return drainThen(req, () => writeInfluxError(res, 400, 'database is required', headers));
    if (!topology.routers.serves(db)) {
      return drainThen(req, () => writeInfluxError(res, 404, `database not found: ${JSON.stringify(db)}`, headers));
    }
    const rp = query.get('rp') ?? '';

    const limit = topology.node.maxBufferedWriteBytes;
    const hold = this.budget.admit(req, res, limit, headers);
    if (!hold) return;
    // snappy here is the protocol's own framing, not a transfer encoding: the body is read as it comes
    // (influxd ignores Content-Encoding on this path too), so receiveBody must not try to inflate it
    delete req.headers['content-encoding'];
    const block = await this.writer.receive(req, res, headers, hold, limit, requestId);
    if (block === undefined) return; // answered, or the client went away

    const lines = this.toLines(block, limit, req, res, headers, hold);
    this.pool.release(block);
    if (lines === undefined) return; // answered
    if (lines.out.lines === 0) {
      // nothing to store (no samples, or only NaN): influxd writes nothing and answers 204
      this.pool.release(lines.out.body);
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const write: ReceivedWrite = { db, rp, precision: 'ms', receivedAt, receivedHr, requestId };
    if (!lines.plan.plain) return this.writer.writeReceived(res, headers, lines.out.body, hold, write);
    // routed and handed to the batchers in this same tick, so against the topology read here
    const current = this.cluster.topology;
    const router = current.routers.forDb(db);
    const routed = this.seriesRouter.route(lines.out, lines.plan, current, router);
    if (!routed.bodyTaken) this.pool.release(lines.out.body);
    return this.writer.writeRouted(res, headers, routed, hold, write, current);
  }

  /**
   * The body's lines, in one pooled buffer charged to the request's hold, with the plan they were
   * written by; undefined when the body was refused (answered here). The decoded size is bounded before decoding: the snappy block
   * states it up front, and more than a /write body may carry is refused with influxd's 413.
   */
  private toLines(
    block: Buffer,
    limit: number,
    req: IncomingMessage,
    res: ServerResponse,
    headers: OutgoingHttpHeaders,
    hold: WriteHold,
  ): { out: SampleLines; plan: LinesPlan } | undefined {
    const decodedLength = snappyDecodedLength(block);
    if (decodedLength === undefined) return this.refuse(res, 400, SNAPPY_CORRUPT, headers);
    if (decodedLength > MAX_BODY_BYTES) return this.refuse(res, 413, TOO_LARGE, headers);
    // the body and what it decodes to are held together while it is decoded
    if (!this.budget.resize(hold, block.length + decodedLength, limit, req, res, headers)) return undefined;
    const decoded = decodeWriteRequest(block);
    if (decoded.error !== undefined) return this.refuse(res, 400, decoded.error, headers);
    let plan: LinesPlan;
    try {
      plan = planLines(decoded.request);
    } catch (err) {
      if (err instanceof SampleValueError) return this.refuse(res, 400, err.message, headers);
      throw err;
    }
    // lines repeat their series key per sample, so they may be far larger than the protobuf
    if (plan.bytes > MAX_INFLATED_BYTES) return this.refuse(res, 413, TOO_LARGE, headers);
    if (!this.budget.resize(hold, block.length + decodedLength + plan.bytes, limit, req, res, headers)) return undefined;
    const out = samplesToLines(decoded.request, plan, (size) => this.pool.acquire(size));
    // from here the request holds its lines only
    this.budget.resize(hold, out.body.length, limit, req, res, headers);
    return { out, plan };
  }

  private refuse(res: ServerResponse, status: number, error: string, headers: OutgoingHttpHeaders): undefined {
    this.logger.debug(`remote write refused: ${status} ${error}`);
    writeInfluxError(res, status, error, headers);
    return undefined;
  }
}

/** Answers after the body is consumed, so the keep-alive connection stays usable. */
function drainThen(req: IncomingMessage, answer: () => void): void {
  if (req.complete) return answer();
  req.resume();
  req.once('end', answer);
  req.once('error', answer);
}
