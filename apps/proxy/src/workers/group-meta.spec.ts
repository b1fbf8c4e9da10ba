import { mergeMemberParts, sumBacklogs } from './group-meta';

const backlog = (records: number, oldestAt: number | null = records > 0 ? 1000 + records : null) => ({
  records,
  bytes: records * 10,
  oldestAt,
});

describe('the membership record of a group of workers', () => {
  it('sums the backlogs, the oldest record being the oldest of any worker', () => {
    expect(
      sumBacklogs([
        { a: backlog(2), b: backlog(0) },
        { a: backlog(3), b: backlog(1) },
      ]),
    ).toEqual({
      a: { records: 5, bytes: 50, oldestAt: 1002 },
      b: { records: 1, bytes: 10, oldestAt: 1001 },
    });
  });

  it('gives a replay slot back only once every worker with a backlog for that backend has', () => {
    const slot = { b: 's1' };
    const drained = { backlog: { b: backlog(0) }, slots: {}, released: slot };
    const replaying = { backlog: { b: backlog(4) }, slots: slot, released: {} };
    const idle = { backlog: { b: backlog(0) }, slots: slot, released: {} };
    expect(mergeMemberParts([drained, replaying])).toMatchObject({ slots: slot, released: {} });
    expect(mergeMemberParts([drained, idle])).toMatchObject({ released: slot });
    expect(mergeMemberParts([drained, { ...replaying, backlog: { b: backlog(0) }, released: slot }]).released).toEqual(slot);
  });

  it("reports any worker's failing writes, since the earliest", () => {
    const merged = mergeMemberParts([
      { backlog: {}, failing: { a: { since: 5, error: 'x' } } },
      { backlog: {}, failing: { a: { since: 3, error: 'y' }, b: { since: 9, error: 'z' } } },
    ]);
    expect(merged.failing).toEqual({ a: { since: 3, error: 'y' }, b: { since: 9, error: 'z' } });
  });
});
