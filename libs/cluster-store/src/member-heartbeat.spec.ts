import { loggerFor } from '@app/logging';
import { MemberHeartbeat, type MemberRecords } from './member-heartbeat';

/** Records in memory; heartbeats can be held (to overlap them) or made to fail. */
class Records implements MemberRecords<{ name: string; n: number }> {
  written: number[] = [];
  left: string[] = [];
  fail?: Error;
  hold?: Promise<void>;

  async heartbeat(member: { name: string; n: number }): Promise<void> {
    if (this.hold) await this.hold;
    if (this.fail) throw this.fail;
    this.written.push(member.n);
  }

  async leave(name: string): Promise<void> {
    this.left.push(name);
  }

  async members() {
    return this.written.map((n) => ({ name: 'm', n }));
  }
}

describe('MemberHeartbeat', () => {
  const logger = loggerFor('test');
  beforeEach(() => {
    jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    jest.spyOn(logger, 'log').mockImplementation(() => undefined);
  });

  it('writes at start, once more after a heartbeat asked for during one on its way, and leaves on stop', async () => {
    const records = new Records();
    let n = 0;
    const hb = new MemberHeartbeat(records, 'm', 60, () => ({ name: 'm', n: ++n }), logger);
    await hb.start();
    expect(records.written).toEqual([1]);
    let release!: () => void;
    records.hold = new Promise((r) => (release = r));
    hb.request(); // on its way, held
    hb.request(); // asked for meanwhile: one more after it
    hb.request(); // still one more, not two
    records.hold = undefined;
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(records.written).toEqual([1, 2, 3]);
    await hb.stop();
    expect(records.left).toEqual(['m']);
    hb.request(); // stopped: nothing more
    await new Promise((r) => setTimeout(r, 10));
    expect(records.written).toEqual([1, 2, 3]);
  });

  it('logs a failing store once and says when heartbeats go through again', async () => {
    const records = new Records();
    records.fail = new Error('store down');
    const hb = new MemberHeartbeat(records, 'm', 60, () => ({ name: 'm', n: 1 }), logger);
    await hb.start();
    expect(hb.failing).toBe('store down');
    hb.request();
    await new Promise((r) => setTimeout(r, 10));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    records.fail = undefined;
    hb.request();
    await new Promise((r) => setTimeout(r, 10));
    expect(hb.failing).toBeUndefined();
    expect(logger.log).toHaveBeenCalledWith('membership heartbeat written again');
    expect(await hb.members()).toEqual({ members: [{ name: 'm', n: 1 }] });
    await hb.stop();
  });
});
