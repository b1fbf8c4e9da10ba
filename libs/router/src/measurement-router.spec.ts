import fc from 'fast-check';
import { MeasurementRouter } from './measurement-router';

const index = new Map([
  ['a', 0],
  ['b', 1],
]);
const plain = (buf: Buffer, s: number, e: number) => buf.toString('utf8', s, e);

function fnv(buf: Buffer): number {
  let h = 0x811c9dc5;
  for (const byte of buf) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

describe('MeasurementRouter', () => {
  const router = new MeasurementRouter({ cpu: ['a'], 'cpu.load': ['b'], _default_: ['a', 'b'] }, index, plain);

  it('prefers an exact keymap match', () => {
    expect(router.routeByName('cpu')).toEqual([0]);
    expect(router.routeByName('cpu.load')).toEqual([1]);
  });

  it('falls back to _default_ and never matches a prefix', () => {
    expect(router.routeByName('cpu.other')).toEqual([0, 1]);
    expect(router.routeByName('cp')).toEqual([0, 1]);
  });

  it('routes nothing when there is no _default_', () => {
    const strict = new MeasurementRouter({ cpu: ['a'] }, index, plain);
    expect(strict.routeByName('mem')).toBeNull();
  });

  it('answers raw bytes from its cache, even when two names share a hash', () => {
    const buf = Buffer.from('cpu.load');
    expect(router.routeRaw(buf, 0, 3, fnv(buf.subarray(0, 3)))).toEqual([0]);
    // a deliberately colliding hash must still be told apart by the bytes
    expect(router.routeRaw(buf, 0, 8, fnv(buf.subarray(0, 3)))).toEqual([1]);
    expect(router.routeRaw(buf, 0, 3, fnv(buf.subarray(0, 3)))).toEqual([0]);
  });

  it('answers from its cache as from the keymap, for more names than the direct-mapped slots', () => {
    // names land in the same slots (64, by the hash's low bits) and evict one another
    const names = fc.uniqueArray(fc.stringMatching(/^[a-z0-9_]{1,12}$/), { minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(names, fc.array(fc.nat(), { minLength: 1, maxLength: 600 }), (list, order) => {
        const keymaps: Record<string, string[]> = { _default_: ['a', 'b'] };
        list.forEach((name, i) => (keymaps[name] = i % 3 === 0 ? ['a'] : i % 3 === 1 ? ['b'] : ['a', 'b']));
        const cached = new MeasurementRouter(keymaps, index, plain);
        for (const pick of order) {
          const buf = Buffer.from(list[pick % list.length]);
          expect(cached.routeRaw(buf, 0, buf.length, fnv(buf))).toEqual(cached.routeByName(buf.toString()));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('deduplicates a backend named twice in one keymap', () => {
    const twice = new MeasurementRouter({ m: ['a', 'a', 'b'] }, index, plain);
    expect(twice.routeByName('m')).toEqual([0, 1]);
  });
});
