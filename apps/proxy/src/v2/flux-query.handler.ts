import { type Backend, describeError, errorTextOf } from '@app/backend';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { BodyTooLarge, readWholeBody } from './whole-body.reader';

/** A Flux script is text: the limit Go's net/http puts on a form body (what /query accepts) is plenty. */
const MAX_FLUX_BODY_BYTES = 10 << 20;
/** How much of a refusing backend's answer is read to name the refusal. */
const MAX_REFUSAL_TEXT = 4096;
/** Hop-by-hop headers of the backend's answer: this connection's business, not the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);
/** influxd 1.8's answer (403, plain text) when `flux-enabled` is false. */
const FLUX_DISABLED = 'Flux query service disabled';

/** What the proxy answers when every backend answered that it serves no Flux (see docs/v2-api.md). */
export const NO_FLUX_STATUS = 403;

/**
 * POST /api/v2/query (Flux, InfluxDB 1.8's compatibility API). A Flux script names its bucket inside
 * itself and the proxy does not parse Flux, so any backend may answer it (every backend holds the
 * proxy's database). The body is sent as the client sent it to one backend, healthy ones first; the
 * answer is streamed back as it comes. Before the first byte the next backend is tried when one does
 * not answer, answers 5xx, or serves no Flux (404 from influxd < 1.8, 403 "Flux query service
 * disabled" from 1.8 without flux-enabled). Credentials were checked by the RequestGate, as for /query.
 */
@Injectable()
export class FluxQueryHandler {
  private readonly logger = new Logger(FluxQueryHandler.name);

  constructor(private readonly cluster: ClusterStateService) {}

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const topology = this.cluster.topology;
    const headers = influxHeaders(topology.version, requestId);
    if (req.method !== 'POST') {
      req.resume();
      return writeMethodNotAllowed(res, 'POST', headers);
    }
    let body: Buffer;
    try {
      body = await readWholeBody(req, MAX_FLUX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader('Connection', 'close');
        return writeInfluxError(res, 413, 'Request Entity Too Large', headers);
      }
      if (req.destroyed) return; // the client went away mid-body
      throw err;
    }

    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) gone.abort();
    });
    const request = {
      body,
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      acceptEncoding: req.headers['accept-encoding'],
      requestId,
      signal: gone.signal,
    };
    const failures: string[] = [];
    let noFlux = 0;
    let unreachable = 0;
    let lastServerError: { backend: string; status: number; headers: IncomingHttpHeaders; text: string } | undefined;
    const candidates = healthyFirst(topology.backends);
    for (const backend of candidates) {
      let answer: Dispatcher.ResponseData;
      try {
        answer = await backend.client.fluxQuery(request);
      } catch (err) {
        if (gone.signal.aborted) return;
        unreachable++;
        failures.push(`${backend.name}: ${describeError(err)}`);
        continue;
      }
      const status = answer.statusCode;
      if (status < 500 && status !== 404 && status !== 403) return this.relay(res, answer, backend, requestId);
      const text = await readSome(answer.body, MAX_REFUSAL_TEXT).catch((err: unknown) => describeError(err));
      if (status === 403 && !text.includes(FLUX_DISABLED)) {
        // a 403 of influxd's own (a user without read access): its answer, not a missing feature
        return this.relayText(res, backend, status, answer.headers, text, requestId);
      }
      if (status === 404 || status === 403) {
        noFlux++;
        failures.push(`${backend.name}: no Flux (${status} ${errorTextOf(status, text)})`);
        continue;
      }
      lastServerError = { backend: backend.name, status, headers: answer.headers, text };
      failures.push(`${backend.name}: ${status} ${errorTextOf(status, text)}`);
    }
    if (gone.signal.aborted) return;
    this.logger.warn({ msg: `flux query ${requestId}: no backend answered it: ${failures.join('; ')}`, reqId: requestId });
    if (candidates.length > 0 && noFlux === candidates.length) {
      return writeInfluxError(res, NO_FLUX_STATUS, `flux is not enabled on any backend: ${failures.join('; ')}`, headers);
    }
    if (lastServerError && lastServerError.status !== 503 && unreachable === 0) {
      // every backend answered, one with an error of influxd's own (a Flux compile error is a 500
      // there): the client gets influxd's words, as for /query
      const e = lastServerError;
      return this.relayText(res, backend(topology.backends, e.backend), e.status, e.headers, e.text, requestId);
    }
    const reason = candidates.length === 0 ? 'no backend is configured' : failures.join('; ');
    return writeInfluxError(res, 503, `no backend can answer the flux query: ${reason}`, { ...headers, 'Retry-After': '1' });
  }

  /** Streams the backend's answer to the client as it comes. */
  private async relay(res: ServerResponse, answer: Dispatcher.ResponseData, from: Backend, requestId: string): Promise<void> {
    res.writeHead(answer.statusCode, relayedHeaders(answer.headers, from, requestId));
    try {
      await pipeline(answer.body, res);
    } catch (err) {
      // the client went away, or the backend broke off mid-answer: nothing more can be said to the client
      if (!res.destroyed) res.destroy();
      this.logger.warn({ msg: `flux query ${requestId}: answer from ${from.name} broken off: ${describeError(err)}`, reqId: requestId });
    }
  }

  private relayText(
    res: ServerResponse,
    from: Backend | undefined,
    status: number,
    headers: IncomingHttpHeaders,
    text: string,
    requestId: string,
  ): void {
    const out = relayedHeaders(headers, from, requestId);
    delete out['content-length'];
    res.writeHead(status, out);
    res.end(text);
  }
}

function healthyFirst(backends: readonly Backend[]): Backend[] {
  return [...backends.filter((b) => b.isHealthy), ...backends.filter((b) => !b.isHealthy)];
}

function backend(backends: readonly Backend[], name: string): Backend | undefined {
  return backends.find((b) => b.name === name);
}

/** The backend's headers without the hop-by-hop ones, with the proxy's request id. */
function relayedHeaders(headers: IncomingHttpHeaders, from: Backend | undefined, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  }
  out['request-id'] = requestId;
  out['x-request-id'] = requestId;
  if (out['x-influxdb-version'] === undefined && from?.version) out['x-influxdb-version'] = from.version;
  return out;
}

/** The first `limit` bytes of an answer as text; the rest is read and thrown away. */
async function readSome(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
