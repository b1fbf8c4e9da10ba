import { LineCursor, LineError, lineText, nextLine, unescapeMeasurement } from '@app/line-protocol';
import type { BufferPool } from '@app/backend';
import type { Router } from '@app/router';
import type { Topology } from '../cluster/topology';

/** Lines for one backend, ready for its batcher: whole lines, each ending in '\n'. */
export interface BackendPart {
  backend: number;
  body: Buffer;
  lines: number;
}

export interface RoutedLines {
  parts: BackendPart[];
  /**
   * Whether a part is a view of the body: then the body is released with that part, not by the caller.
   * Parts of replicas that take the same lines share one buffer (BufferPool.share): each part is still
   * released once.
   */
  bodyTaken: boolean;
  /** Lines routed to at least one backend. */
  accepted: number;
  /** Lines dropped here (unparsable or unroutable). */
  dropped: number;
  /** One text per dropped line, in influxd's wording (the first MAX_FAILED_TEXTS of them). */
  failed: string[];
  /** Lines dropped because no keymap (nor `_default_`) names a backend for them. */
  unroutable: number;
}

/** How a run of bytes is copied out: as is, with a '\n' added, or with a timestamp and '\n' added. */
const AS_IS = 0;
const ADD_NEWLINE = 1;
const ADD_TIMESTAMP = 2;
const NL = 0x0a;
const SPACE = 0x20;
const NO_STAMP = Buffer.alloc(0);
// read once: an imported name compiles to a property read of the lib's exports object (a getter call)
// at each use, and these two are used once a line
const scanLine = nextLine;
const NO_ERROR = LineError.None;
/** Error texts kept per request; the count of dropped lines stays exact beyond it. */
const MAX_FAILED_TEXTS = 1000;
/** Most characters of an offending line quoted in an error (influxd quotes it whole). */
export const MAX_QUOTED_LINE = 1024;

/** The line for an error message, cut at MAX_QUOTED_LINE characters. */
function quotedLine(buf: Buffer, cur: LineCursor): string {
  const text = lineText(buf, cur);
  return text.length > MAX_QUOTED_LINE ? `${text.slice(0, MAX_QUOTED_LINE)}…` : text;
}

/** The runs of one backend's lines in the request body: (start, end, how) triples, merged when adjacent. */
class BackendRuns {
  runs = new Int32Array(192);
  count = 0;
  lines = 0;
  bytes = 0;
  /** Some run adds bytes (a timestamp or a newline): the lines no longer fit where they are. */
  grows = false;

  reset(): void {
    this.count = 0;
    this.lines = 0;
    this.bytes = 0;
    this.grows = false;
  }

  add(start: number, end: number, how: number, extra: number): void {
    const n = this.count;
    const r = this.runs;
    this.lines++;
    this.bytes += end - start + extra;
    if (how !== AS_IS) this.grows = true;
    if (how === AS_IS && n > 0 && r[n - 1] === AS_IS && r[n - 2] === start) {
      r[n - 2] = end;
      return;
    }
    if (n + 3 > r.length) {
      const grown = new Int32Array(r.length * 2);
      grown.set(r);
      this.runs = grown;
    }
    this.runs[n] = start;
    this.runs[n + 1] = end;
    this.runs[n + 2] = how;
    this.count = n + 3;
  }

  /** Whether `other` holds exactly these runs (the replicas of one group take the same lines). */
  sameAs(other: BackendRuns): boolean {
    if (other.count !== this.count || other.lines !== this.lines || other.bytes !== this.bytes) return false;
    const a = this.runs;
    const b = other.runs;
    for (let i = 0; i < this.count; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** One untouched run: the lines can be sent as a view of the body, without a copy. */
  get isOneRun(): boolean {
    return this.count === 3 && this.runs[2] === AS_IS;
  }

  /**
   * Moves the runs together inside `buf` itself, from where the first one starts, and returns that
   * view: no buffer to fill, and copyWithin costs about half a copy out. Only for runs that add no
   * bytes (each run then moves down or stays), and only once every other part has been copied out of
   * `buf`, since it overwrites it.
   */
  compactIn(buf: Buffer): Buffer {
    const r = this.runs;
    const from = r[0];
    let at = from;
    for (let i = 0; i < this.count; i += 3) {
      if (r[i] !== at) buf.copyWithin(at, r[i], r[i + 1]);
      at += r[i + 1] - r[i];
    }
    return buf.subarray(from, at);
  }

  /** Copies the runs out of `buf` into one pooled Buffer. */
  materialize(buf: Buffer, stamp: Buffer, pool: BufferPool): Buffer {
    const r = this.runs;
    const out = pool.acquire(this.bytes);
    // a plain Uint8Array view: its subarray() and set() cost about 20 % less a run than Buffer.copy,
    // which builds a typed array per call (a 5000-line body split over groups has thousands of runs)
    const src = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    let at = 0;
    for (let i = 0; i < this.count; i += 3) {
      out.set(src.subarray(r[i], r[i + 1]), at);
      at += r[i + 1] - r[i];
      const how = r[i + 2];
      if (how === ADD_TIMESTAMP) {
        out[at++] = SPACE;
        at += stamp.copy(out, at);
        out[at++] = NL;
      } else if (how === ADD_NEWLINE) {
        out[at++] = NL;
      }
    }
    return out;
  }
}

/**
 * Route stage: scans a request body once and splits its lines per backend, stamping lines that carry
 * no timestamp. Allocates nothing per line: a reused cursor, reused run arrays, cached routes.
 * Not re-entrant — it runs synchronously from start to end of one request.
 */
export class LineRouter {
  private readonly cursor = new LineCursor();
  private perBackend: BackendRuns[] = [];

  constructor(private readonly pool: BufferPool) {}

  /**
   * @param stamp the receive time in the request's precision, as ASCII digits (asked for lazily)
   */
  route(buf: Buffer, topology: Topology, stamp: () => Buffer, router: Router | null = topology.router): RoutedLines {
    const backends = topology.backends;
    while (this.perBackend.length < backends.length) this.perBackend.push(new BackendRuns());
    for (let i = 0; i < backends.length; i++) this.perBackend[i].reset();

    const parts: BackendPart[] = [];
    const failed: string[] = [];
    const cur = this.cursor;
    let stampBytes: Buffer | undefined;
    let accepted = 0;
    let unroutable = 0;
    let dropped = 0;
    let pos = 0;

    while (scanLine(buf, pos, buf.length, cur)) {
      pos = cur.next;
      if (cur.error !== NO_ERROR || cur.unterminated) {
        // an unterminated string would swallow the lines after it in the backend's batch: never forward one
        const reason = cur.unterminated
          ? 'unbalanced quotes'
          : cur.error === LineError.MissingMeasurement
            ? 'missing measurement'
            : 'missing fields';
        if (++dropped <= MAX_FAILED_TEXTS) failed.push(`unable to parse '${quotedLine(buf, cur)}': ${reason}`);
        continue;
      }
      const route = router === null ? null : router.routeRaw(buf, cur.lineStart, cur.measurementEnd, cur.measurementHash);
      if (route === null || route.length === 0) {
        unroutable++;
        if (++dropped <= MAX_FAILED_TEXTS) {
          const name = unescapeMeasurement(buf, cur.lineStart, cur.measurementEnd);
          failed.push(`unable to route '${quotedLine(buf, cur)}': no backend for measurement "${name}"`);
        }
        continue;
      }
      accepted++;
      // from where influxd's own scan of the line begins, so the backend splits it exactly as we did
      const start = cur.blockStart;
      let end: number;
      let how: number;
      let extra = 0;
      if (!cur.hasTimestamp) {
        stampBytes ??= stamp();
        end = cur.lineEnd;
        how = ADD_TIMESTAMP;
        extra = stampBytes.length + 2;
      } else if (cur.lineEnd < buf.length && buf[cur.lineEnd] === NL) {
        end = cur.lineEnd + 1;
        how = AS_IS;
      } else {
        end = cur.lineEnd;
        how = ADD_NEWLINE;
        extra = 1;
      }
      for (let i = 0; i < route.length; i++) {
        const index = route[i];
        const runs = this.perBackend[index];
        runs.add(start, end, how, extra);
        if (runs.lines >= backends[index].config.maxRowLimit) {
          parts.push({ backend: index, body: runs.materialize(buf, stampBytes ?? NO_STAMP, this.pool), lines: runs.lines });
          runs.reset();
        }
      }
    }

    let bodyTaken = false;
    const firstPart = parts.length;
    // one backend whose lines are not one run may take them moved together inside the body instead of
    // copied out, unless some backend takes a view of the body as it is
    const inPlace = this.inPlaceCandidate(backends.length);
    const inPlaceRuns = inPlace < 0 ? undefined : this.perBackend[inPlace];
    for (let i = 0; i < backends.length; i++) {
      const runs = this.perBackend[i];
      if (runs.lines === 0 || i === inPlace) continue;
      // the replicas of the in-place part share it once it is made, below
      if (inPlaceRuns?.sameAs(runs)) continue;
      let body: Buffer;
      // one backend may take its lines as a view of the body, which then goes back to the pool with them
      if (!bodyTaken && runs.isOneRun) {
        body = buf.subarray(runs.runs[0], runs.runs[1]);
        bodyTaken = true;
      } else {
        // a replica of a backend already served (the same group) takes the same lines: it shares that
        // part's buffer, which goes back to the pool at the last of their releases (one per part)
        const twin = this.twinOf(i, parts, firstPart);
        body = twin ? this.pool.share(twin) : runs.materialize(buf, stampBytes ?? NO_STAMP, this.pool);
      }
      parts.push({ backend: i, body, lines: runs.lines });
    }
    if (inPlaceRuns) {
      // last: it overwrites the body the parts above were copied from
      const body = inPlaceRuns.compactIn(buf);
      bodyTaken = true;
      parts.push({ backend: inPlace, body, lines: inPlaceRuns.lines });
      for (let i = inPlace + 1; i < backends.length; i++) {
        const runs = this.perBackend[i];
        if (runs.lines > 0 && runs.sameAs(inPlaceRuns)) parts.push({ backend: i, body: this.pool.share(body), lines: runs.lines });
      }
    }
    return { parts, bodyTaken, accepted, dropped, failed, unroutable };
  }

  /**
   * The backend (of the first `n`) whose lines move together inside the body: the first one of several
   * runs that add no bytes, when no backend's lines are one untouched run (that one is a view of the
   * body as it is); -1 for none.
   */
  private inPlaceCandidate(n: number): number {
    let candidate = -1;
    for (let i = 0; i < n; i++) {
      const runs = this.perBackend[i];
      if (runs.lines === 0) continue;
      if (runs.isOneRun) return -1;
      if (candidate < 0 && !runs.grows) candidate = i;
    }
    return candidate;
  }

  /** The body of a part made above (from `from` on) whose backend took exactly backend `i`'s runs. */
  private twinOf(i: number, parts: readonly BackendPart[], from: number): Buffer | undefined {
    const runs = this.perBackend[i];
    for (let p = from; p < parts.length; p++) {
      if (this.perBackend[parts[p].backend].sameAs(runs)) return parts[p].body;
    }
    return undefined;
  }
}
