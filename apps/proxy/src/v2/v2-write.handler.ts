import { influxHeaders, writeInfluxError } from '@app/http-compat';
import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { WriteHandler, drainThen } from '../write/write.handler';
import { bucketTarget, invalidV2Precision, v2WritePrecision } from './v2-params';

/**
 * POST /api/v2/write (InfluxDB 1.8's compatibility API for v2 clients): reads `bucket` and the v2
 * `precision`, then hands the request to the /write handler's own stages, so routing, replication,
 * the spool, the 204 contract and every error answer are /write's. `org` is ignored, as 1.8 ignores it;
 * the credentials (`Authorization: Token user:password`, Basic, or u/p) were checked by the RequestGate.
 */
@Injectable()
export class V2WriteHandler {
  constructor(
    private readonly cluster: ClusterStateService,
    private readonly metrics: ProxyMetrics,
    private readonly write: WriteHandler,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, requestId: string): Promise<void> {
    if (req.method !== 'POST') {
      // influxd 1.8 registers this path for POST only (no CORS preflight route): its router's 405
      req.resume();
      return writeMethodNotAllowed(res, 'POST', influxHeaders(this.cluster.topology.version, requestId));
    }
    this.metrics.writeRequests.inc(); // as /write counts its requests: before the parameters are judged
    const given = query.get('precision') ?? '';
    const precision = v2WritePrecision(given);
    // influxd 1.8 checks the precision, then the bucket, then serves the write as /write does
    if (precision === undefined) return this.refuse(req, res, 400, invalidV2Precision(given), requestId);
    const target = bucketTarget(query.get('bucket') ?? '');
    if ('error' in target) return this.refuse(req, res, 404, target.error, requestId);
    return this.write.writeTo(req, res, target.db, target.rp, precision, requestId);
  }

  private refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, requestId: string): void {
    drainThen(req, () => writeInfluxError(res, status, message, influxHeaders(this.cluster.topology.version, requestId)));
  }
}
