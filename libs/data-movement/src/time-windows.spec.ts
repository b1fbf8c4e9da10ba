import fc from 'fast-check';
import {
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  alignDown,
  alignedSpan,
  chooseWindowMs,
  windowCount,
  windowsBefore,
  windowsFrom,
} from './time-windows';

describe('time windows', () => {
  it('aligns to multiples of the window size from the epoch, also before 1970', () => {
    expect(alignDown(HOUR_MS + 5, HOUR_MS)).toBe(HOUR_MS);
    expect(alignDown(-5, HOUR_MS)).toBe(-HOUR_MS);
    expect(alignedSpan(HOUR_MS + 5, 3 * HOUR_MS, HOUR_MS)).toEqual({ start: HOUR_MS, end: 4 * HOUR_MS });
  });

  it('covers a last point that falls exactly on a window boundary', () => {
    const span = alignedSpan(0, 2 * HOUR_MS, HOUR_MS);
    expect(span.end).toBeGreaterThan(2 * HOUR_MS);
    expect(windowCount(span, HOUR_MS)).toBe(3);
  });

  it('chooses the largest size that keeps a window under the target at the average density', () => {
    // 1 M points over 10 days: 100 k a day, 4 167 an hour
    expect(chooseWindowMs(1_000_000, 0, 10 * DAY_MS, 200_000)).toBe(DAY_MS);
    expect(chooseWindowMs(1_000_000, 0, 10 * DAY_MS, 10_000)).toBe(HOUR_MS);
    // denser than the smallest size allows: the smallest
    expect(chooseWindowMs(1e12, 0, DAY_MS, 10)).toBe(MINUTE_MS);
    // a handful of points: one week-long window
    expect(chooseWindowMs(10, 0, 1, 200_000)).toBe(7 * DAY_MS);
  });

  it('resumes at the window a cursor points to; a cursor between boundaries resumes at the window holding it', () => {
    const span = { start: 0, end: 5 * HOUR_MS };
    expect([...windowsFrom(span, HOUR_MS)].map((w) => w.start)).toEqual([0, 1, 2, 3, 4].map((h) => h * HOUR_MS));
    expect([...windowsFrom(span, HOUR_MS, 3 * HOUR_MS)].map((w) => w.start)).toEqual([3 * HOUR_MS, 4 * HOUR_MS]);
    expect([...windowsFrom(span, HOUR_MS, 3 * HOUR_MS + 1)].map((w) => w.start)).toEqual([3 * HOUR_MS, 4 * HOUR_MS]);
    expect([...windowsFrom(span, HOUR_MS, 5 * HOUR_MS)]).toEqual([]);
    expect(windowsBefore(span, HOUR_MS, 3 * HOUR_MS)).toBe(3);
  });

  it('windows tile a span exactly: contiguous, aligned, none empty (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 1e13 }),
        fc.integer({ min: 0, max: 5e8 }),
        fc.constantFrom(MINUTE_MS, HOUR_MS, DAY_MS),
        (first, len, size) => {
          const span = alignedSpan(first, first + len, size);
          const ws = [...windowsFrom(span, size)];
          expect(ws.length).toBe(windowCount(span, size));
          expect(ws[0].start).toBe(span.start);
          expect(ws[ws.length - 1].end).toBe(span.end);
          let tiled = true;
          for (let i = 0; i < ws.length; i++) {
            if (i > 0 && ws[i].start !== ws[i - 1].end) tiled = false;
            if (ws[i].start % size !== 0 || ws[i].end <= ws[i].start) tiled = false;
          }
          expect(tiled).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
