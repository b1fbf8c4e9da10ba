import { type Batch, type BatchAnswer, WriteBatcher } from './write-batcher';
import { WRITE_OK } from './write-outcome';

const tick = () => new Promise((r) => setImmediate(r));

describe('WriteBatcher with several databases (#17)', () => {
  it('never puts two databases’ lines in one batch, and a batch says its db', async () => {
    const sent: { db?: string; body: string; answer: (a: BatchAnswer) => void }[] = [];
    const send = (batch: Batch) =>
      new Promise<BatchAnswer>((answer) => sent.push({ db: batch.db, body: Buffer.concat(batch.chunks).toString(), answer }));
    const batcher = new WriteBatcher(send, { maxRowLimit: 100, maxBatchBytes: 1 << 20, concurrency: 1 });
    // the first goes at once; the rest pile up while the only slot is busy
    const first = batcher.append('', '', Buffer.from('a v=1\n'), 1);
    await tick();
    const pending = [
      batcher.append('', '', Buffer.from('b v=1\n'), 1, 'app'),
      batcher.append('', '', Buffer.from('c v=1\n'), 1, 'metrics'),
      batcher.append('', '', Buffer.from('d v=1\n'), 1, 'app'),
      batcher.append('', '', Buffer.from('e v=1\n'), 1),
    ];
    for (let i = 0; i < 4 && sent.length <= i + 1; i++) {
      sent[i].answer(WRITE_OK);
      await tick();
      await tick();
    }
    await first;
    await Promise.all(pending);
    expect(sent.map((s) => [s.db ?? '', s.body])).toEqual([
      ['', 'a v=1\n'],
      ['app', 'b v=1\nd v=1\n'],
      ['metrics', 'c v=1\n'],
      ['', 'e v=1\n'],
    ]);
  });
});
