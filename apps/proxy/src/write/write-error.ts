/** The lines the proxy itself could not take (see LineRouter). */
export interface OwnDrops {
  accepted: number;
  dropped: number;
  failed: string[];
}

/** A backend's refusal of its part of the request (`lines` lines). */
export interface PartRefusal {
  status: number;
  error: string;
  lines: number;
}

const PARTIAL = /^partial write: ([\s\S]*) dropped=(\d+)$/;

/**
 * The one error a /write answers when lines were refused, worded as influxd words it: the proxy's
 * own drops (lines it could not parse or route) and the backends' refusals of their parts.
 *
 * A refusal that is not a 400 (influxd's 500 `retention policy not found`, a 413, a backend's
 * state) is answered as it came. 400s are merged: one backend's words pass through untouched when
 * they are the only ones (replicas answer the same lines in the same words); otherwise the distinct
 * reasons are joined, and `dropped` counts each distinct reason once (replicas dropping the same
 * line do not count it twice) plus the proxy's own drops.
 */
export function influxWriteError(own: OwnDrops, refusals: readonly PartRefusal[]): { status: number; error: string } {
  const other = refusals.find((r) => r.status !== 400);
  if (other) return { status: other.status, error: other.error };
  const distinct = new Map<string, number>();
  for (const r of refusals) distinct.set(r.error, Math.max(distinct.get(r.error) ?? 0, r.lines));
  if (own.dropped === 0 && distinct.size === 1) return { status: 400, error: refusals[0].error };
  const reasons = [...own.failed];
  let dropped = own.dropped;
  let partial = own.accepted > 0 && own.dropped > 0;
  for (const [text, lines] of distinct) {
    const m = PARTIAL.exec(text);
    if (m) {
      reasons.push(m[1]);
      dropped += Number(m[2]);
      partial = true;
    } else {
      // influxd wrote none of that part's lines (it says `unable to parse …` without `partial write`)
      reasons.push(text);
      dropped += lines;
    }
  }
  if (!partial) return { status: 400, error: reasons.join('\n') };
  return { status: 400, error: `partial write: ${reasons.join('\n')} dropped=${dropped}` };
}
