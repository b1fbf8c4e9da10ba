import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

/** Why an attempt left the client's response untouched, so that the next backend may answer. */
export type RelayFailure = { error: unknown } | { status: number; body: string };

/** How one attempt ended. */
export type RelayOutcome =
  /** The answer went (or is going) to the client; nothing more to do. */
  | { kind: 'answered' }
  /** The client went away first. */
  | { kind: 'gone' }
  | ({ kind: 'failed' } & RelayFailure);

/** Bytes of a 5xx answer kept for the failure message. */
const MAX_ERROR_BODY = 64 << 10;

const ANSWERED: RelayOutcome = { kind: 'answered' };
const GONE: RelayOutcome = { kind: 'gone' };

/**
 * Relays one backend's /query answer to the client as undici parses it (an undici dispatch handler:
 * no Readable in between). The answer is committed to a backend only once its first bytes arrive, so
 * a backend that stalls (timeoutQuery), dies or answers 5xx before that still leaves the next one to
 * answer. Bytes are held only until the end of the socket read that brought them: when the whole
 * answer came in that read (the common case for a dashboard query) it goes out in one write with a
 * Content-Length; otherwise it is streamed chunk by chunk with the client's back-pressure pausing the
 * backend's socket.
 *
 * One relay serves one client request; `attempt` is called once per candidate backend, one at a time.
 */
export class StreamRelay implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private settle?: (outcome: RelayOutcome) => void;
  private status = 0;
  private upstreamHeaders?: Record<string, string | string[] | undefined>;
  /** Bytes of this socket read not yet written (nothing is committed while there are any). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private committed = false;
  /** A 5xx answer: its body is read for the message, the client sees none of it. */
  private errorBody?: Buffer[];
  private errorBytes = 0;
  private gone = false;
  private readonly flushHeld = () => this.flush();
  private readonly resumeUpstream = () => this.controller?.resume();

  constructor(
    private readonly res: ServerResponse,
    private readonly answerHeaders: (status: number, upstream: Record<string, string | string[] | undefined>) => OutgoingHttpHeaders,
    /** A backend stream that breaks after the answer was committed (the client's connection is cut). */
    private readonly onBroken: (err: unknown) => void,
  ) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.gone = true;
      this.controller?.abort(Object.assign(new Error('client closed the connection'), { name: 'AbortError' }));
      this.finish(GONE);
    });
  }

  /** Sends the request with `dispatch` and resolves once the answer is committed, refused, or the client is gone. */
  attempt(dispatch: (handler: Dispatcher.DispatchHandler) => void): Promise<RelayOutcome> {
    if (this.gone) return Promise.resolve(GONE);
    this.controller = undefined;
    this.status = 0;
    this.upstreamHeaders = undefined;
    this.errorBody = undefined;
    this.errorBytes = 0;
    return new Promise((resolve) => {
      this.settle = resolve;
      try {
        dispatch(this);
      } catch (error) {
        this.finish({ kind: 'failed', error });
      }
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.gone) controller.abort(Object.assign(new Error('client closed the connection'), { name: 'AbortError' }));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200) return; // 1xx: the real answer follows
    this.status = status;
    this.upstreamHeaders = headers;
    if (status >= 500) this.errorBody = [];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.gone) return;
    if (this.errorBody) {
      if (this.errorBytes < MAX_ERROR_BODY) {
        this.errorBody.push(chunk);
        this.errorBytes += chunk.length;
      }
      return;
    }
    if (!this.committed) {
      // the rest of this read may complete the answer: decide once the parser is done with it
      if (this.heldBytes === 0) queueMicrotask(this.flushHeld);
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.resumeUpstream);
    }
  }

  onResponseEnd(): void {
    if (this.gone) return;
    if (this.errorBody) {
      const body = Buffer.concat(this.errorBody, this.errorBytes).toString('utf8');
      this.finish({ kind: 'failed', status: this.status, body });
      return;
    }
    if (this.committed) {
      this.res.end();
      return;
    }
    // the whole answer arrived in one read: one write, with a length instead of chunked encoding
    const headers = this.answerHeaders(this.status, this.upstreamHeaders ?? {});
    if (this.status !== 204 && this.status !== 304) headers['Content-Length'] = this.heldBytes; // those carry no body
    const body = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    this.committed = true;
    this.res.writeHead(this.status, headers);
    this.res.end(body);
    this.finish(ANSWERED);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.gone) return;
    if (!this.committed) {
      this.held = [];
      this.heldBytes = 0;
      this.finish({ kind: 'failed', error });
      return;
    }
    this.onBroken(error);
    this.res.destroy();
  }

  /** The held bytes were not the whole answer: commit to this backend and stream the rest. */
  private flush(): void {
    if (this.committed || this.gone || this.heldBytes === 0) return;
    this.committed = true;
    this.res.writeHead(this.status, this.answerHeaders(this.status, this.upstreamHeaders ?? {}));
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    let room = true;
    for (const chunk of held) room = this.res.write(chunk);
    if (!room && this.controller) {
      this.controller.pause();
      this.res.once('drain', this.resumeUpstream);
    }
    this.finish(ANSWERED);
  }

  private finish(outcome: RelayOutcome): void {
    const settle = this.settle;
    this.settle = undefined;
    settle?.(outcome);
  }
}
