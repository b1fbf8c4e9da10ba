import type { PingResult } from '@app/backend';
import type { Dispatcher } from 'undici';
import { BackendFrozenError, BackendLiveness, type WatchedBackend, type WatchedUntil } from './backend-liveness';

const WAIT_MS = 40;
const PING_TIMEOUT_MS = 40;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms, for at most 3 s (timers run late on a loaded machine). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A request the fake backend holds: the test decides when it starts, answers or never answers. */
class HeldRequest {
  readonly controller: Dispatcher.DispatchController;
  error?: Error;
  constructor(readonly handler: Dispatcher.DispatchHandler) {
    let aborted = false;
    this.controller = {
      get aborted() {
        return aborted;
      },
      abort: (reason: Error) => {
        if (aborted) return;
        aborted = true;
        this.handler.onResponseError?.(this.controller, reason);
      },
      pause() {},
      resume() {},
      paused: false,
      reason: null,
    } as unknown as Dispatcher.DispatchController;
  }
  start(): this {
    this.handler.onRequestStart?.(this.controller, {});
    return this;
  }
  head(): void {
    this.handler.onResponseStart?.(this.controller, 200, {}, 'OK');
  }
  data(): void {
    this.handler.onResponseData?.(this.controller, Buffer.from('{"results":['));
  }
  end(): void {
    this.handler.onResponseEnd?.(this.controller, {});
  }
}

/** A backend whose liveness answer the test sets: alive (answers at once) or frozen (never, until the timeout). */
class FakeBackend implements WatchedBackend {
  readonly name = 'a';
  alive = true;
  pings = 0;
  pingsInFlight = 0;
  maxPingsInFlight = 0;
  failing: string[] = [];
  readonly requests: HeldRequest[] = [];
  readonly client = {
    queryStream: (_request: unknown, handler: Dispatcher.DispatchHandler) => {
      this.requests.push(new HeldRequest(handler));
    },
    answersWithin: async (timeoutMs: number): Promise<PingResult> => {
      this.pings++;
      this.maxPingsInFlight = Math.max(this.maxPingsInFlight, ++this.pingsInFlight);
      try {
        if (this.alive) return { ok: true };
        await sleep(timeoutMs);
        return { ok: false, error: `no answer to /ping within ${timeoutMs} ms` };
      } finally {
        this.pingsInFlight--;
      }
    },
  };
  markFailing(error: string): void {
    this.failing.push(error);
  }
}

/** What the caller's handler saw. */
function recorder() {
  const seen: { errors: Error[]; ended: boolean; started: boolean } = { errors: [], ended: false, started: false };
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {
      seen.started = true;
    },
    onResponseEnd() {
      seen.ended = true;
    },
    onResponseError(_c, err) {
      seen.errors.push(err);
    },
  };
  return { seen, handler };
}

function send(liveness: BackendLiveness, backend: FakeBackend, until: WatchedUntil = 'end') {
  const { seen, handler } = recorder();
  liveness.queryStream(backend, { method: 'GET', text: 'SELECT 1' }, handler, until);
  return { seen, request: backend.requests[backend.requests.length - 1] };
}

describe('BackendLiveness', () => {
  let liveness: BackendLiveness;
  let backend: FakeBackend;

  beforeEach(() => {
    liveness = new BackendLiveness({ waitMs: WAIT_MS, pingTimeoutMs: PING_TIMEOUT_MS });
    backend = new FakeBackend();
  });

  it('does not ping a backend whose queries are answered within the wait', async () => {
    for (let i = 0; i < 5; i++) {
      const { request } = send(liveness, backend);
      request.start().head();
      request.data();
      request.end();
    }
    await sleep(WAIT_MS * 3);
    expect(backend.pings).toBe(0);
  });

  it('lets a slow query on a live backend wait, pinging at most once per wait', async () => {
    const { seen, request } = send(liveness, backend);
    request.start().head();
    await until(() => backend.pings >= 2, 'two pings');
    const started = performance.now();
    await sleep(WAIT_MS * 4);
    // no more than one per wait (the sleep may have run long on a loaded machine)
    expect(backend.pings - 2).toBeLessThanOrEqual(Math.ceil((performance.now() - started) / WAIT_MS));
    expect(seen.errors).toEqual([]);
    expect(backend.failing).toEqual([]);
    request.data();
    request.end();
    const after = backend.pings;
    await sleep(WAIT_MS * 3);
    expect(backend.pings).toBe(after); // nothing waits: no more pings
    expect(seen.ended).toBe(true);
  });

  it('shares one ping among all the queries waiting on a backend', async () => {
    backend.alive = false;
    const sent = Array.from({ length: 10 }, () => send(liveness, backend));
    for (const s of sent) s.request.start();
    await until(() => sent.every((s) => s.seen.errors.length > 0), 'every query taken back');
    expect(backend.pings).toBe(1);
    expect(backend.maxPingsInFlight).toBe(1);
  });

  it('takes every waiting query back from a frozen backend and marks it failing once', async () => {
    backend.alive = false;
    const started = [send(liveness, backend), send(liveness, backend)];
    for (const s of started) s.request.start().head(); // influxd sends its head before it runs the query
    const queued = send(liveness, backend); // still in the pool's queue: no connection yet
    await until(() => backend.failing.length > 0, 'the frozen verdict');
    await sleep(WAIT_MS); // nothing more comes of it
    expect(backend.failing).toHaveLength(1);
    expect(backend.failing[0]).toMatch(
      /^backend a looks frozen: a query waited \d+ ms for an answer and a liveness ping failed \(no answer to \/ping within 40 ms\)$/,
    );
    for (const s of started) {
      expect(s.seen.errors).toHaveLength(1);
      expect(s.seen.errors[0]).toBeInstanceOf(BackendFrozenError);
    }
    expect(queued.seen.errors).toEqual([]);
    queued.request.start(); // reaches a connection: aborted at once
    expect(queued.seen.started).toBe(true);
    expect(queued.seen.errors[0]).toBeInstanceOf(BackendFrozenError);
  });

  it('no longer takes back a streamed answer once its first byte has arrived (it may be at the client)', async () => {
    backend.alive = false;
    const streamed = send(liveness, backend, 'first-byte');
    const whole = send(liveness, backend, 'end');
    for (const s of [streamed, whole]) {
      s.request.start().head();
      s.request.data();
    }
    await until(() => whole.seen.errors.length > 0, 'the answer read whole taken back');
    expect(streamed.seen.errors).toEqual([]);
    // an answer read whole reaches the client only at its end: a stall before then still fails over
    expect(whole.seen.errors[0]).toBeInstanceOf(BackendFrozenError);
  });

  it('gives no verdict when what waited got its answer while the ping was out', async () => {
    backend.alive = false;
    const { seen, request } = send(liveness, backend);
    request.start().head();
    await until(() => backend.pingsInFlight === 1, 'the ping');
    request.data();
    request.end();
    await until(() => backend.pingsInFlight === 0, 'the ping to time out');
    await sleep(5);
    expect(backend.failing).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(seen.ended).toBe(true);
  });

  it('checks a backend again for queries that arrive after it was found alive', async () => {
    const first = send(liveness, backend);
    first.request.start();
    await until(() => backend.pings === 1, 'the first ping');
    backend.alive = false; // freezes now
    const next = send(liveness, backend);
    next.request.start();
    await until(() => first.seen.errors.length > 0 && next.seen.errors.length > 0, 'both queries taken back');
    expect(backend.pings).toBe(2);
    expect(first.seen.errors[0]).toBeInstanceOf(BackendFrozenError);
    expect(next.seen.errors[0]).toBeInstanceOf(BackendFrozenError);
  });
});
