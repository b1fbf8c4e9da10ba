import { earliestShard, shardSpansOf } from './shard-span-cache';
import { parseQueryResponse } from './query-result';

// influxd 1.6.7's answer to `SHOW SHARDS; SHOW RETENTION POLICIES ON "d"` (two rps, two shards in autogen)
const ANSWER = JSON.stringify({
  results: [
    {
      statement_id: 0,
      series: [
        {
          name: 'd',
          columns: ['id', 'database', 'retention_policy', 'shard_group', 'start_time', 'end_time', 'expiry_time', 'owners'],
          values: [
            [1, 'd', 'autogen', 1, '2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z', '2026-12-07T00:00:00Z', ''],
            [2, 'd', 'autogen', 2, '2026-11-23T00:00:00Z', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00Z', ''],
            [3, 'd', 'short', 3, '2026-12-06T00:00:00Z', '2026-12-06T01:00:00Z', '2026-12-06T02:00:00Z', ''],
          ],
        },
        {
          name: 'other',
          columns: ['id', 'database', 'retention_policy', 'shard_group', 'start_time', 'end_time', 'expiry_time', 'owners'],
          values: [[4, 'other', 'autogen', 4, '1980-01-01T00:00:00Z', '1980-01-08T00:00:00Z', '1980-01-08T00:00:00Z', '']],
        },
      ],
    },
    {
      statement_id: 1,
      series: [
        {
          columns: ['name', 'duration', 'shardGroupDuration', 'replicaN', 'default'],
          values: [
            ['autogen', '0s', '168h0m0s', 1, true],
            ['short', '1h0m0s', '1h0m0s', 1, false],
          ],
        },
      ],
    },
  ],
});

const ns = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;
const NOW = ns('2026-12-06T12:00:00Z');

describe('shardSpansOf', () => {
  it('keeps the earliest shard start per rp of the backend database only, and its default rp', () => {
    const spans = shardSpansOf(parseQueryResponse(ANSWER), 'd', 1)!;
    expect(spans.defaultRp).toBe('autogen');
    expect([...spans.byRp]).toEqual([
      ['autogen', ns('2026-11-23T00:00:00Z')],
      ['short', ns('2026-12-06T00:00:00Z')],
    ]);
  });

  it('is unknown when SHOW SHARDS was refused (no admin privilege)', () => {
    const refused = parseQueryResponse(
      '{"results":[{"statement_id":0,"error":"error authorizing query: u not authorized to execute statement \'SHOW SHARDS\', requires admin privilege"}]}',
    );
    expect(shardSpansOf(refused, 'd', 1)).toBeUndefined();
  });
});

describe('earliestShard', () => {
  const spans = shardSpansOf(parseQueryResponse(ANSWER), 'd', 1)!;
  const empty = { at: 1, byRp: new Map<string, bigint>(), defaultRp: 'autogen' };

  it('uses the default rp when the statement names none', () => {
    expect(earliestShard([spans], new Set([undefined]), NOW)).toBe(ns('2026-11-23T00:00:00Z'));
    expect(earliestShard([spans], new Set(['short']), NOW)).toBe(ns('2026-12-06T00:00:00Z'));
  });

  it('takes the earliest over the answering backends and the rps read', () => {
    expect(earliestShard([empty, spans], new Set(['short', undefined]), NOW)).toBe(ns('2026-11-23T00:00:00Z'));
  });

  it('says no data (the given value) when no backend has a shard there', () => {
    expect(earliestShard([empty], new Set([undefined]), NOW)).toBe(NOW);
  });

  it('is unknown when a backend has no entry, or there is no backend', () => {
    expect(earliestShard([spans, undefined], new Set([undefined]), NOW)).toBeUndefined();
    expect(earliestShard([], new Set([undefined]), NOW)).toBeUndefined();
  });
});
