import { parseMemberRecord } from './membership';
import { parseSentinelMember, parseSentinelState } from './sentinel-state';

const base = {
  seq: 1,
  leader: 's1',
  term: 't',
  at: 1,
  interval: 250,
  staleAfter: 1_000,
  slotTtl: 600,
  backends: {},
  slots: {},
  cooling: {},
};

describe('parseSentinelState: the fleet backlog', () => {
  it('reads it when published', () => {
    const state = parseSentinelState(JSON.stringify({ ...base, backlog: { b: { records: 7, proxies: { p1: 7 } } } }));
    expect(state?.backlog).toEqual({ b: { records: 7, proxies: { p1: 7 } } });
  });

  it('stays tolerant of an older sentinel’s publication without it', () => {
    const state = parseSentinelState(JSON.stringify(base));
    expect(state).not.toBeNull();
    expect(state!.backlog).toBeUndefined();
  });

  it('skips malformed entries instead of fencing by mistake', () => {
    const state = parseSentinelState(
      JSON.stringify({
        ...base,
        backlog: { a: { records: 'many' }, b: { records: 0 }, c: { records: 3, proxies: { p1: 3, p2: 'x' } }, d: [] },
      }),
    );
    expect(state?.backlog).toEqual({ c: { records: 3, proxies: { p1: 3 } } });
  });
});

describe('member records: owner token and report period', () => {
  it('keeps them when present and leaves them out when absent', () => {
    const proxy = parseMemberRecord(JSON.stringify({ name: 'p1', owner: 'abc', reportEveryMs: 1_000 }));
    expect(proxy).toMatchObject({ owner: 'abc', reportEveryMs: 1_000 });
    const older = parseMemberRecord(JSON.stringify({ name: 'p1' }));
    expect(older).not.toHaveProperty('owner');
    expect(older).not.toHaveProperty('reportEveryMs');
    expect(parseSentinelMember(JSON.stringify({ name: 's1', owner: 'xyz' }))?.owner).toBe('xyz');
  });
});
