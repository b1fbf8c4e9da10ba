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

  it('deduplicates a backend named twice in one keymap', () => {
    const twice = new MeasurementRouter({ m: ['a', 'a', 'b'] }, index, plain);
    expect(twice.routeByName('m')).toEqual([0, 1]);
  });
});
