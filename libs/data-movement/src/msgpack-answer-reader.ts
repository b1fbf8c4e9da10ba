import { type BackendClient, type QueryRequest, describeError, errorTextOf } from '@app/backend';
import { type MsgpackValue, NEED_MORE, readOne } from '@app/query/influx-msgpack';
import type { Dispatcher } from 'undici';
import { abortError } from './token-bucket';

/** The source's answer is paused while this much of it waits to be read (bounds memory per window). */
const PAUSE_BYTES = 4 << 20;
/** A partial msgpack value is parsed again only once this much more has arrived (or its size has doubled). */
const MIN_REPARSE_BYTES = 64 << 10;

/** A source that could not be read (down, an error answer): another replica may serve the window. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
}

/**
 * Sends a /query to `client` asking for msgpack and yields each decoded response (one per chunk with
 * `chunked=true`) as it arrives, never holding more than a few MB of the answer: the connection is
 * paused while the consumer is behind. Throws SourceError when the backend is unreachable, answers
 * an error status, or answers in another format; the abort reason when `signal` aborts.
 */
export async function* msgpackResponses(client: BackendClient, request: QueryRequest, signal: AbortSignal): AsyncGenerator<MsgpackValue> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let status = 0;
  let contentType = '';
  let controller: Dispatcher.DispatchController | undefined;
  let wake: (() => void) | undefined;
  const onAbort = () => controller?.abort(abortError(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (signal.aborted) c.abort(abortError(signal));
    },
    onResponseStart(_c, statusCode, headers) {
      if (statusCode < 200) return;
      status = statusCode;
      const type = headers['content-type'];
      contentType = String((Array.isArray(type) ? type[0] : type) ?? '');
    },
    onResponseData(c, chunk) {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= PAUSE_BYTES && !c.paused) c.pause();
      wake?.();
    },
    onResponseEnd() {
      ended = true;
      wake?.();
    },
    onResponseError(_c, err) {
      failure = err;
      wake?.();
    },
  };
  try {
    client.queryStream(request, handler);
    // the answer's bytes not yet decoded: buf[start, end)
    let buf = Buffer.alloc(0);
    let start = 0;
    let end = 0;
    let retryAt = 0;
    for (;;) {
      while (queue.length === 0 && !ended && !failure) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (failure) {
        if (signal.aborted) throw abortError(signal);
        throw new SourceError(`backend ${client.name} unreachable: ${describeError(failure)}`);
      }
      if (status !== 200 || !contentType.includes('msgpack')) {
        // an error answer (JSON or text) is small: read it whole, then say what it was
        while (!ended && !failure) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
        const text = Buffer.concat(queue).toString('utf8');
        if (status === 200)
          throw new SourceError(
            `backend ${client.name} answered ${contentType || 'without a content type'}, not msgpack (influxd ≥ 1.4 is needed)`,
          );
        throw new SourceError(`backend ${client.name} answered ${status}: ${errorTextOf(status, text)}`);
      }
      // append what has arrived, growing the buffer by doubling so copying stays linear
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        queued -= chunk.length;
        if (end + chunk.length > buf.length) {
          const live = end - start;
          const grown = Buffer.allocUnsafe(Math.max(2 * (live + chunk.length), 1 << 20));
          buf.copy(grown, 0, start, end);
          buf = grown;
          start = 0;
          end = live;
        }
        chunk.copy(buf, end);
        end += chunk.length;
      }
      if (controller?.paused && queued < PAUSE_BYTES / 2) controller.resume();
      if (end - start >= retryAt || ended) {
        for (;;) {
          const one = readOne(buf.subarray(0, end), start);
          if (one === NEED_MORE) {
            retryAt = Math.max(2 * (end - start), end - start + MIN_REPARSE_BYTES);
            break;
          }
          start = one.end;
          retryAt = 0;
          yield one.value;
          if (start === end) {
            start = 0;
            end = 0;
            break;
          }
        }
      }
      if (ended && queue.length === 0) {
        if (end > start) throw new SourceError(`backend ${client.name}: the answer ended inside a msgpack value`);
        return;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // the consumer stopped early (an error, a write failure): the rest of the answer is not needed
    if (!ended && !failure) controller?.abort(Object.assign(new Error('answer no longer needed'), { name: 'AbortError' }));
  }
}
