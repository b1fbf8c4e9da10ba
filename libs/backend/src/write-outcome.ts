/** How a backend answered one batch (or one client request's part of it). */
export type WriteOutcome =
  /** Written (2xx), or fsynced in the backend's spool (`spooled`) to be replayed. */
  | { readonly kind: 'ok'; readonly spooled?: true }
  /**
   * The request's own fault, answered as influxd answered it (its status and words): a 4xx about the
   * lines (parse errors, partial writes, field type conflicts) or a 500 that names the request
   * (`retention policy not found`, a measurement name that is not UTF-8). InfluxDB has already written the good
   * lines (except when `once`).
   */
  | {
      readonly kind: 'rejected';
      readonly status: number;
      readonly error: string;
      /**
       * influxd gives this answer once and takes the same lines when they come again: the first time a
       * shard sees a measurement name that is not UTF-8, it writes none of the batch and answers 500.
       * A client retries; the spool's replay, which has no client, sends the record once more itself.
       */
      readonly once?: true;
      /**
       * A copy of the refused lines, set by a Backend on a live write (the batch's own buffers go back
       * to the pool): when replicas took the same lines, the refusal is this backend's state after all,
       * and they are kept for it (Backend.keepForLater).
       */
      readonly body?: Buffer;
    }
  /**
   * The backend's state, not the lines: its database is missing, or it refuses the proxy's
   * credentials. The lines are kept (spooled) until the backend takes them.
   */
  | { readonly kind: 'refused'; readonly status: number; readonly error: string }
  /** Network error, timeout or any other 5xx: the batch may be retried (or spooled). */
  | { readonly kind: 'unavailable'; readonly error: string };

export const WRITE_OK: WriteOutcome = Object.freeze({ kind: 'ok' });
export const WRITE_SPOOLED: WriteOutcome = Object.freeze({ kind: 'ok', spooled: true });

/** influxd 1.6's `proto: field "tsdb.MeasurementFields.Name" contains invalid UTF-8`. */
const INVALID_UTF8_NAME = /^proto: field "tsdb\.[A-Za-z.]+" contains invalid UTF-8$/;

/**
 * Reads influxd's answer to a /write (status and error text) as the write contract needs it.
 * The table of influxd 1.x answers this follows is in write-answer.spec.ts.
 */
export function classifyWriteAnswer(status: number, error: string): WriteOutcome {
  if (status === 204 || status === 200) return WRITE_OK;
  // the proxy writes into the backend's configured db with the backend's credentials: a missing
  // database or a refused login is that backend's state, never the client's request
  if (status === 401 || status === 403) return { kind: 'refused', status, error };
  // (a 404 other than `database not found` means the backend's url points at no InfluxDB)
  if (status === 404) return { kind: 'refused', status, error };
  if (status === 500) {
    // WritePoints' errors that name the request: the client's rp does not exist there
    if (error.startsWith('retention policy not found')) return { kind: 'rejected', status, error };
    // a measurement name that is not UTF-8: influxd cannot save the shard's field index the first time
    // it sees the name (later writes of it succeed), so this is the request's bytes, not a failing backend
    if (INVALID_UTF8_NAME.test(error)) return { kind: 'rejected', status, error, once: true };
    // the database vanished between influxd's check and its write
    if (error.startsWith('database not found')) return { kind: 'refused', status, error };
    return { kind: 'unavailable', error };
  }
  if (status === 413) return { kind: 'rejected', status, error };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'rejected', status, error };
  return { kind: 'unavailable', error };
}
