import { ProbeState } from './probe-state';

const ok = (at: number, version = '1.6.7') => ({ ok: true, at, version });
const fail = (at: number, error = 'ping: ECONNREFUSED') => ({ ok: false, at, error });

describe('ProbeState', () => {
  const thresholds = { downAfter: 3, upAfter: 2, writeFailureReports: 1 };

  it('knows nothing until the first probe, which decides at once', () => {
    const up = new ProbeState(thresholds);
    expect(up.health('s1')).toBeUndefined();
    expect(up.record(ok(10))).toEqual({ to: 'up' });
    expect(up.health('s1')).toEqual({ up: true, since: 10, lastError: null, version: '1.6.7', checkedAt: 10, by: 's1', reason: null });

    const down = new ProbeState(thresholds);
    expect(down.record(fail(10))).toEqual({ to: 'down', reason: 'probe', error: 'ping: ECONNREFUSED' });
    expect(down.health('s1')).toMatchObject({ up: false, since: 10, reason: 'probe', lastError: 'ping: ECONNREFUSED' });
  });

  it('goes down after `downAfter` failed probes in a row, and a good one in between starts the count again', () => {
    const s = new ProbeState(thresholds);
    s.record(ok(0));
    expect(s.record(fail(1))).toBeUndefined();
    expect(s.record(fail(2))).toBeUndefined();
    expect(s.record(ok(3))).toBeUndefined();
    expect(s.record(fail(4))).toBeUndefined();
    expect(s.record(fail(5))).toBeUndefined();
    expect(s.record(fail(6, 'SHOW DATABASES answered 500'))).toEqual({ to: 'down', reason: 'probe', error: 'SHOW DATABASES answered 500' });
    expect(s.health('s2')).toMatchObject({ up: false, since: 6, by: 's2', checkedAt: 6 });
  });

  it('comes back up after `upAfter` good probes in a row', () => {
    const s = new ProbeState(thresholds);
    s.record(fail(0));
    expect(s.record(ok(1))).toBeUndefined();
    expect(s.record(fail(2))).toBeUndefined();
    expect(s.record(ok(3))).toBeUndefined();
    expect(s.record(ok(4))).toEqual({ to: 'up' });
    expect(s.health('s1')).toMatchObject({ up: true, since: 4, reason: null, lastError: 'ping: ECONNREFUSED' });
  });

  it('marks an answering backend down when a proxy reports failing writes, and up only `upAfter` probes after the reports stop', () => {
    const s = new ProbeState(thresholds);
    s.record(ok(0));
    expect(
      s.applyReports([{ proxy: 'p2', since: 5, error: 'backend b answered 500: engine: cache maximum memory size exceeded' }], 10),
    ).toEqual({
      to: 'down',
      reason: 'write-failures',
      error: 'writes fail at proxy p2: backend b answered 500: engine: cache maximum memory size exceeded',
    });
    expect(s.health('s1')).toMatchObject({ up: false, since: 10, reason: 'write-failures' });
    // probes keep answering, but the reports hold it down
    expect(s.record(ok(11))).toBeUndefined();
    expect(s.record(ok(12))).toBeUndefined();
    expect(s.applyReports([{ proxy: 'p2', since: 5, error: 'x' }], 13)).toBeUndefined();
    expect(s.record(ok(14))).toBeUndefined();
    expect(s.applyReports([], 15)).toBeUndefined();
    expect(s.record(ok(16))).toBeUndefined();
    expect(s.record(ok(17))).toEqual({ to: 'up' });
  });

  it('ignores reports when the threshold is 0, and needs as many reporting proxies as the threshold', () => {
    const off = new ProbeState({ ...thresholds, writeFailureReports: 0 });
    off.record(ok(0));
    expect(off.applyReports([{ proxy: 'p1', since: 0, error: 'x' }], 1)).toBeUndefined();
    expect(off.isUp).toBe(true);

    const two = new ProbeState({ ...thresholds, writeFailureReports: 2 });
    two.record(ok(0));
    expect(two.applyReports([{ proxy: 'p1', since: 0, error: 'x' }], 1)).toBeUndefined();
    expect(
      two.applyReports(
        [
          { proxy: 'p1', since: 0, error: 'x' },
          { proxy: 'p2', since: 0, error: 'y' },
        ],
        2,
      ),
    ).toMatchObject({ to: 'down' });
  });

  it('carries on from a previous leader’s verdict without flapping', () => {
    const s = new ProbeState(thresholds);
    s.adopt({ up: false, since: 100, lastError: 'ping: timeout', version: '1.6.7', checkedAt: 150, by: 's1', reason: 'probe' });
    expect(s.health('s2')).toMatchObject({ up: false, since: 100, by: 's2' });
    expect(s.record(ok(200))).toBeUndefined(); // one good probe is not `upAfter`
    expect(s.record(ok(201))).toEqual({ to: 'up' });
  });
});
