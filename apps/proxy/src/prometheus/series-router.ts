import type { BufferPool } from '@app/backend';
import type { LinesPlan, SampleLines } from '@app/prom-remote';
import type { Route, Router } from '@app/router';
import type { Topology } from '../cluster/topology';
import { type BackendPart, MAX_QUOTED_LINE, type RoutedLines } from '../write/route-lines';

const NL = 0x0a;
/** Error texts kept per request, as the line router keeps them (route-lines.ts). */
const MAX_FAILED_TEXTS = 1000;

/** One backend's share of the lines: [start, end) ranges of the lines' buffer, merged when adjacent. */
class BackendRanges {
  ranges = new Int32Array(64);
  count = 0;
  lines = 0;
  bytes = 0;

  reset(): void {
    this.count = 0;
    this.lines = 0;
    this.bytes = 0;
  }

  add(start: number, end: number, lines: number): void {
    const n = this.count;
    this.lines += lines;
    this.bytes += end - start;
    if (n > 0 && this.ranges[n - 1] === start) {
      this.ranges[n - 1] = end;
      return;
    }
    if (n + 2 > this.ranges.length) {
      const grown = new Int32Array(this.ranges.length * 2);
      grown.set(this.ranges);
      this.ranges = grown;
    }
    this.ranges[n] = start;
    this.ranges[n + 1] = end;
    this.count = n + 2;
  }

  /** The ranges copied out of `buf` into one pooled Buffer. */
  materialize(buf: Buffer, pool: BufferPool): Buffer {
    const out = pool.acquire(this.bytes);
    let at = 0;
    for (let i = 0; i < this.count; i += 2) at += buf.copy(out, at, this.ranges[i], this.ranges[i + 1]);
    return out;
  }
}

/**
 * Route stage for the lines a remote write became, without scanning them: each series' lines are one
 * range of the buffer, all with the same measurement (known from the series' labels, see planLines), so
 * a series is routed once and its range handed whole to the backends of its route. The result is what
 * the line router (route-lines.ts) makes of the same buffer — the same parts, in the same order, with
 * the same bytes; the same counts and error texts — so the stages after it (batch, send, spool, replay,
 * metrics, the answer) cannot tell the two apart. Only for a plan whose lines are `plain`: other lines
 * must be scanned. Allocates nothing per line on the way of routable lines. Not re-entrant.
 */
export class SeriesRouter {
  private perBackend: BackendRanges[] = [];

  constructor(private readonly pool: BufferPool) {}

  /** `router`: the client db's (a proxy serving several databases routes per db); null: every line is unroutable. */
  route(lines: SampleLines, plan: LinesPlan, topology: Topology, router: Router | null = topology.router): RoutedLines {
    const backends = topology.backends;
    while (this.perBackend.length < backends.length) this.perBackend.push(new BackendRanges());
    for (let i = 0; i < backends.length; i++) this.perBackend[i].reset();

    const buf = lines.body;
    const { seriesEnds, seriesLines } = lines;
    const measurements = plan.measurements;
    const parts: BackendPart[] = [];
    const failed: string[] = [];
    let accepted = 0;
    let unroutable = 0;
    // the series of one metric come one after another: its route is looked up once for them
    let lastName: string | undefined;
    let lastRoute: Route | null = null;
    let start = 0;
    for (let s = 0; s < seriesEnds.length; s++) {
      const end = seriesEnds[s];
      const n = seriesLines[s];
      if (n === 0) {
        start = end;
        continue;
      }
      const name = measurements[s] as string;
      if (name !== lastName) {
        lastName = name;
        lastRoute = router === null ? null : router.writeRouteByName(name);
      }
      const route = lastRoute;
      if (route === null || route.length === 0) {
        // dropped as the line router drops them: counted, and one text per line up to MAX_FAILED_TEXTS
        const texts = Math.min(n, MAX_FAILED_TEXTS - unroutable);
        for (let k = 0, at = start; k < texts; k++) {
          const lineEnd = buf.indexOf(NL, at);
          let text = buf.toString('utf8', at, lineEnd);
          if (text.length > MAX_QUOTED_LINE) text = `${text.slice(0, MAX_QUOTED_LINE)}…`;
          failed.push(`unable to route '${text}': no backend for measurement "${name}"`);
          at = lineEnd + 1;
        }
        unroutable += n;
        start = end;
        continue;
      }
      accepted += n;
      // a backend reaching its maxRowLimit within the series takes the line router's way: line by line,
      // a part cut the moment it is full
      let whole = true;
      for (let i = 0; i < route.length; i++) {
        const index = route[i];
        if (this.perBackend[index].lines + n >= backends[index].config.maxRowLimit) whole = false;
      }
      if (whole) {
        for (let i = 0; i < route.length; i++) this.perBackend[route[i]].add(start, end, n);
      } else {
        for (let at = start; at < end;) {
          const next = buf.indexOf(NL, at) + 1;
          for (let i = 0; i < route.length; i++) {
            const index = route[i];
            const ranges = this.perBackend[index];
            ranges.add(at, next, 1);
            if (ranges.lines >= backends[index].config.maxRowLimit) {
              parts.push({ backend: index, body: ranges.materialize(buf, this.pool), lines: ranges.lines });
              ranges.reset();
            }
          }
          at = next;
        }
      }
      start = end;
    }

    let bodyTaken = false;
    for (let i = 0; i < backends.length; i++) {
      const ranges = this.perBackend[i];
      if (ranges.lines === 0) continue;
      let body: Buffer;
      // one backend may take its lines as a view of the buffer, which then goes back to the pool with them
      if (!bodyTaken && ranges.count === 2) {
        body = buf.subarray(ranges.ranges[0], ranges.ranges[1]);
        bodyTaken = true;
      } else {
        body = ranges.materialize(buf, this.pool);
      }
      parts.push({ backend: i, body, lines: ranges.lines });
    }
    return { parts, bodyTaken, accepted, dropped: unroutable, failed, unroutable };
  }
}
