/** How a backend answered one batch. */
export type WriteOutcome =
  | { readonly kind: 'ok' }
  /** A 4xx: final, InfluxDB has already written the good lines. */
  | { readonly kind: 'rejected'; readonly status: number; readonly error: string }
  /** Network error, timeout or 5xx: the batch may be retried (or spooled). */
  | { readonly kind: 'unavailable'; readonly error: string };

export const WRITE_OK: WriteOutcome = Object.freeze({ kind: 'ok' });
