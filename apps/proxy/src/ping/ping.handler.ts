import { influxHeaders } from '@app/http-compat';
import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { writeMethodNotAllowed } from '../http/method-not-allowed';

/** GET/HEAD /ping: 204 with the version a healthy backend reports; `verbose` → 200 {"version"}. */
@Injectable()
export class PingHandler {
  constructor(private readonly cluster: ClusterStateService) {}

  handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, requestId: string): void {
    const version = this.cluster.topology.version;
    const headers = influxHeaders(version, requestId);
    if (req.method !== 'GET' && req.method !== 'HEAD') return writeMethodNotAllowed(res, 'GET, HEAD', headers);
    const verbose = query.get('verbose');
    if (verbose !== null && verbose !== '' && verbose !== '0' && verbose !== 'false') {
      const body = JSON.stringify({ version });
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(204, headers);
    res.end();
  }
}
