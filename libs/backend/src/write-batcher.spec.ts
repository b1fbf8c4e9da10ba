import { type Batch, type BatchAnswer, WriteBatcher } from './write-batcher';
import { WRITE_OK, type WriteOutcome } from './write-outcome';

interface Sent {
  rp: string;
  precision: string;
  body: string;
  lines: number;
  answer: (o: BatchAnswer) => void;
}

function recordingSender() {
  const sent: Sent[] = [];
  const send = ({ rp, precision, chunks, bytes, lines, chunkLines }: Batch) =>
    new Promise<BatchAnswer>((answer) => {
      const body = Buffer.concat(chunks).toString();
      expect(body.length).toBe(bytes);
      expect(chunkLines.reduce((a, b) => a + b, 0)).toBe(lines);
      sent.push({ rp, precision, body, lines, answer });
    });
  return { sent, send };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('WriteBatcher', () => {
  it('sends a lone write at once, without waiting for a linger timer', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 2 });
    const done = batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    await tick();
    expect(sent.map((s) => s.body)).toEqual(['a v=1\n']);
    sent[0].answer(WRITE_OK);
    await expect(done).resolves.toBe(WRITE_OK);
  });

  it('answers add() by callback, in the same batch as append()s, and a callback that throws keeps no other from its answer', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 1 });
    const seen: WriteOutcome[] = [];
    batcher.add('', 'ns', Buffer.from('a v=1\n'), 1, '', () => {
      throw new Error('a bug in a caller');
    });
    batcher.add('', 'ns', Buffer.from('b v=2\n'), 1, '', (o) => seen.push(o));
    const promised = batcher.append('', 'ns', Buffer.from('c v=3\n'), 1);
    // the throw is rethrown from a microtask (uncaught, as any bug): caught here instead of failing the run
    const rethrown: (() => void)[] = [];
    const microtask = jest.spyOn(global, 'queueMicrotask').mockImplementation((fn) => void rethrown.push(fn));
    try {
      await tick();
      expect(sent.map((x) => x.body)).toEqual(['a v=1\nb v=2\nc v=3\n']);
      const lost: WriteOutcome = { kind: 'unavailable', error: 'spool full' };
      sent[0].answer(lost);
      await expect(promised).resolves.toEqual(lost);
      expect(seen).toEqual([lost]);
    } finally {
      microtask.mockRestore();
    }
    expect(rethrown).toHaveLength(1);
    expect(rethrown[0]).toThrow('a bug in a caller');
  });

  it('merges writes that arrive while every slot is busy, in arrival order', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 1 });
    const first = batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    await tick();
    const second = batcher.append('', 'ns', Buffer.from('b v=2\n'), 1);
    const third = batcher.append('', 'ns', Buffer.from('c v=3\n'), 1);
    await tick();
    expect(sent).toHaveLength(1);
    sent[0].answer(WRITE_OK);
    await first;
    await tick();
    expect(sent.map((s) => [s.body, s.lines])).toEqual([
      ['a v=1\n', 1],
      ['b v=2\nc v=3\n', 2],
    ]);
    sent[1].answer({ kind: 'rejected', status: 400, error: 'bad' });
    await expect(second).resolves.toEqual({ kind: 'rejected', status: 400, error: 'bad' });
    await expect(third).resolves.toEqual({ kind: 'rejected', status: 400, error: 'bad' });
  });

  it('keeps rp and precision apart and never exceeds maxRowLimit lines per batch', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 2, maxBatchBytes: 1 << 20, concurrency: 1 });
    void batcher.append('', 'ns', Buffer.from('hold v=0\n'), 1);
    await tick();
    void batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    void batcher.append('', 's', Buffer.from('b v=2\n'), 1);
    void batcher.append('', 'ns', Buffer.from('c v=3\n'), 1);
    void batcher.append('', 'ns', Buffer.from('d v=4\n'), 1);
    void batcher.append('rp2', 'ns', Buffer.from('e v=5\n'), 1);
    for (let i = 0; i < 6; i++) {
      await tick();
      sent.forEach((s) => s.answer(WRITE_OK));
    }
    const bodiesOf = (rp: string, precision: string) => sent.filter((s) => s.rp === rp && s.precision === precision).map((s) => s.body);
    expect(bodiesOf('', 'ns')).toEqual(['hold v=0\n', 'a v=1\nc v=3\n', 'd v=4\n']);
    expect(bodiesOf('', 's')).toEqual(['b v=2\n']);
    expect(bodiesOf('rp2', 'ns')).toEqual(['e v=5\n']);
    expect(Math.max(...sent.map((s) => s.lines))).toBeLessThanOrEqual(2);
  });

  it('drain() sends what is buffered and resolves when all is answered', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 1 });
    void batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    sent[0].answer(WRITE_OK);
    await draining;
    expect(drained).toBe(true);
  });

  it('releases every chunk once its batch is answered, not before', async () => {
    const { sent, send } = recordingSender();
    const released: string[] = [];
    const batcher = new WriteBatcher(send, {
      maxRowLimit: 100,
      maxBatchBytes: 1 << 20,
      concurrency: 1,
      release: (c) => released.push(c.toString()),
    });
    const done = batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    void batcher.append('', 'ns', Buffer.from('b v=1\n'), 1);
    await tick();
    expect(released).toEqual([]);
    sent[0].answer(WRITE_OK);
    await done;
    expect(released).toEqual(['a v=1\n', 'b v=1\n']);
  });

  it('turns a sender that throws into an unavailable outcome', async () => {
    const batcher = new WriteBatcher(() => Promise.reject(new Error('boom')), { maxRowLimit: 10, maxBatchBytes: 1 << 20, concurrency: 1 });
    await expect(batcher.append('', '', Buffer.from('a v=1\n'), 1)).resolves.toEqual({
      kind: 'unavailable',
      error: 'boom',
    });
  });

  it('never lets a batch grow past maxBatchBytes; a single larger part goes alone', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 12, concurrency: 1 });
    void batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    await tick();
    void batcher.append('', 'ns', Buffer.from('b v=1\n'), 1);
    void batcher.append('', 'ns', Buffer.from('c v=1\n'), 1);
    void batcher.append('', 'ns', Buffer.from('dddddd v=11111\n'), 1);
    sent[0].answer(WRITE_OK);
    for (let i = 1; i < 4; i++) {
      await tick();
      sent[i]?.answer(WRITE_OK);
    }
    await tick();
    expect(sent.map((s) => s.body)).toEqual(['a v=1\n', 'b v=1\nc v=1\n', 'dddddd v=11111\n']);
  });

  it('answers each append with its own outcome when the sender splits the batch', async () => {
    const { sent, send } = recordingSender();
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 1 });
    const first = batcher.append('', 'ns', Buffer.from('a v=1\n'), 1);
    await tick();
    const good = batcher.append('', 'ns', Buffer.from('b v=1\n'), 1);
    const bad = batcher.append('', 'ns', Buffer.from('c v=x\n'), 1);
    sent[0].answer(WRITE_OK);
    await first;
    await tick();
    const refusal: WriteOutcome = { kind: 'rejected', status: 400, error: "unable to parse 'c v=x'" };
    sent[1].answer([WRITE_OK, refusal]);
    await expect(good).resolves.toBe(WRITE_OK);
    await expect(bad).resolves.toBe(refusal);
  });
  describe('with a linger (a buffered proxy with a backend interval)', () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('holds a batch that is not full until it is linger ms old, then sends what gathered as one', async () => {
      const { sent, send } = recordingSender();
      const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 4 });
      batcher.linger = 150;
      const started = performance.now();
      const answers = [batcher.append('', '', Buffer.from('a v=1\n'), 1)];
      await sleep(40);
      answers.push(batcher.append('', '', Buffer.from('b v=2\n'), 1), batcher.append('', '', Buffer.from('c v=3\n'), 1));
      await sleep(40);
      expect(sent).toHaveLength(0); // free slots, and still nothing sent
      for (let i = 0; i < 100 && sent.length === 0; i++) await sleep(10);
      expect(performance.now() - started).toBeGreaterThanOrEqual(145);
      expect(sent.map((s) => [s.body, s.lines])).toEqual([['a v=1\nb v=2\nc v=3\n', 3]]);
      sent[0].answer(WRITE_OK);
      await expect(Promise.all(answers)).resolves.toEqual([WRITE_OK, WRITE_OK, WRITE_OK]);
    });

    it('sends a full batch at once, without waiting out the linger', async () => {
      const { sent, send } = recordingSender();
      const batcher = new WriteBatcher(send, { maxRowLimit: 2, maxBatchBytes: 1 << 20, concurrency: 4 });
      batcher.linger = 10_000;
      void batcher.append('', '', Buffer.from('a v=1\n'), 1);
      void batcher.append('', '', Buffer.from('b v=2\n'), 1);
      void batcher.append('', '', Buffer.from('c v=3\n'), 1);
      await tick();
      expect(sent.map((s) => s.body)).toEqual(['a v=1\nb v=2\n']);
      batcher.linger = 0; // lowered: what waits leaves at once
      await tick();
      expect(sent.map((s) => s.body)).toEqual(['a v=1\nb v=2\n', 'c v=3\n']);
      for (const s of sent) s.answer(WRITE_OK);
    });

    it('sends a lingering batch once it holds 16 KiB, whatever its age', async () => {
      const { sent, send } = recordingSender();
      const batcher = new WriteBatcher(send, { maxRowLimit: 100_000, maxBatchBytes: 1 << 20, concurrency: 4 });
      batcher.linger = 60_000;
      const line = Buffer.from('m,host=a v=1i 1700000000000000000\n');
      const below = Math.ceil((16 * 1024) / line.length) - 1; // one line short of 16 KiB
      for (let i = 0; i < below; i++) void batcher.append('', '', line, 1);
      await tick();
      expect(sent).toHaveLength(0);
      void batcher.append('', '', line, 1);
      await tick();
      expect(sent.map((s) => s.lines)).toEqual([below + 1]);
      sent[0].answer(WRITE_OK);
      const drained = batcher.drain();
      await drained;
    });

    it('drain sends a lingering batch at once and leaves no timer behind', async () => {
      const { sent, send } = recordingSender();
      const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 4 });
      batcher.linger = 60_000;
      const done = batcher.append('', '', Buffer.from('a v=1\n'), 1);
      await tick();
      expect(sent).toHaveLength(0);
      const drained = batcher.drain();
      expect(sent.map((s) => s.body)).toEqual(['a v=1\n']);
      sent[0].answer(WRITE_OK);
      await drained;
      await expect(done).resolves.toBe(WRITE_OK);
      expect(batcher.pending).toEqual({ batches: 0, inFlight: 0 });
    });
  });
});
