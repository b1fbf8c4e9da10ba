import { isValidPrecision, PRECISIONS, TimestampClock, timestampFor } from './precision';

const EPOCH_MS = 1_700_000_123_456;

describe('isValidPrecision', () => {
  it.each(['', 'n', 'ns', 'u', 'ms', 's', 'm', 'h'])('accepts %j', (p) => {
    expect(isValidPrecision(p)).toBe(true);
    expect(PRECISIONS).toContain(p);
  });

  it.each(['us', 'x', 'S', 'MS', 'nanoseconds', ' ms'])('rejects %j', (p) => {
    expect(isValidPrecision(p)).toBe(false);
  });
});

describe('TimestampClock', () => {
  it('floors the wall clock to ms, s, m and h', () => {
    const clock = new TimestampClock();
    expect(clock.timestampFor(EPOCH_MS, 0n, 'ms')).toBe('1700000123456');
    expect(clock.timestampFor(EPOCH_MS, 0n, 's')).toBe('1700000123');
    expect(clock.timestampFor(EPOCH_MS, 0n, 'm')).toBe('28333335');
    expect(clock.timestampFor(EPOCH_MS, 0n, 'h')).toBe('472222');
  });

  it('pads whole milliseconds for ns and u without an hrtime', () => {
    const clock = new TimestampClock();
    expect(clock.timestampFor(EPOCH_MS, undefined, '')).toBe('1700000123456000000');
    expect(clock.timestampFor(EPOCH_MS, undefined, 'n')).toBe('1700000123456000000');
    expect(clock.timestampFor(EPOCH_MS, undefined, 'ns')).toBe('1700000123456000000');
    expect(clock.timestampFor(EPOCH_MS, undefined, 'u')).toBe('1700000123456000');
  });

  it('adds hrtime deltas to the first reading for sub-millisecond ns and u', () => {
    const clock = new TimestampClock();
    const hr0 = 5_000_000_000n;
    expect(clock.timestampFor(EPOCH_MS, hr0, 'ns')).toBe('1700000123456000000');
    expect(clock.timestampFor(EPOCH_MS + 1, hr0 + 1_234_567n, 'ns')).toBe('1700000123457234567');
    expect(clock.timestampFor(EPOCH_MS + 1, hr0 + 1_234_999n, 'u')).toBe('1700000123457234');
  });

  it('moves its origin when the wall clock is stepped', () => {
    const clock = new TimestampClock();
    const hr0 = 1_000n;
    clock.timestampFor(EPOCH_MS, hr0, 'ns');
    // The wall clock jumped 10 s ahead while only 1 ms passed on the monotonic clock.
    expect(clock.timestampFor(EPOCH_MS + 10_000, hr0 + 1_000_000n, 'ns')).toBe('1700000133456000000');
    expect(clock.timestampFor(EPOCH_MS + 10_000, hr0 + 1_500_000n, 'ns')).toBe('1700000133456500000');
    // …and follows a large step back.
    expect(clock.timestampFor(EPOCH_MS - 60_000, hr0 + 2_000_000n, 'ns')).toBe('1700000063456000000');
  });

  it('never repeats a nanosecond timestamp', () => {
    const clock = new TimestampClock();
    const a = clock.timestampFor(EPOCH_MS, 42n, 'ns');
    const b = clock.timestampFor(EPOCH_MS, 42n, 'ns');
    const c = clock.timestampFor(EPOCH_MS, 41n, '');
    expect(BigInt(b)).toBe(BigInt(a) + 1n);
    expect(BigInt(c)).toBe(BigInt(b) + 1n);
  });
});

describe('timestampFor', () => {
  it('gives the current time in the precision from a real clock reading', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const ns = BigInt(timestampFor(Date.now(), process.hrtime.bigint(), 'ns'));
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    expect(ns >= before - 2_000_000n && ns <= after + 2_000_000n).toBe(true);
    expect(timestampFor(EPOCH_MS, process.hrtime.bigint(), 's')).toBe('1700000123');
  });
});
