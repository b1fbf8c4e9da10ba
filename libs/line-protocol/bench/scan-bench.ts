/**
 * Micro-benchmark of the line scanner on a typical write body (5000 lines, 7 measurements rotating).
 *
 *   npx tsc --outDir /tmp/lpb --module commonjs --target es2022 --types node \
 *     libs/line-protocol/bench/scan-bench.ts && node /tmp/lpb/bench/scan-bench.js
 */
import { LineCursor, LineError, nextLine } from '../src/line-scanner';

const NAMES = ['cpu', 'mem', 'disk', 'net', 'diskio', 'system', 'processes'];

function body(lines: number, line: (i: number) => string): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) parts.push(line(i));
  return Buffer.from(parts.join('\n') + '\n');
}

const cases: [string, Buffer][] = [
  [
    'typical',
    body(
      5000,
      (i) =>
        `${NAMES[i % NAMES.length]},host=server001,region=us-west-1,dc=dc1 ` +
        `usage_user=12.345,usage_system=1.234,count=5i,ok=true 1700000000000000000`,
    ),
  ],
  [
    'no timestamps',
    body(
      5000,
      (i) => `${NAMES[i % NAMES.length]},host=server001,region=us-west-1,dc=dc1 ` + `usage_user=12.345,usage_system=1.234,count=5i,ok=true`,
    ),
  ],
  [
    'string fields',
    body(
      5000,
      (i) =>
        `${NAMES[i % NAMES.length]},host=server001,region=us-west-1,dc=dc1 ` +
        `usage_user=12.345,status="ok, all good",count=5i 1700000000000000000`,
    ),
  ],
];

function scan(buf: Buffer, cur: LineCursor): number {
  let pos = 0;
  let n = 0;
  let check = 0;
  while (nextLine(buf, pos, buf.length, cur)) {
    pos = cur.next;
    if (cur.error === LineError.None && cur.hasTimestamp) check ^= cur.measurementHash;
    n++;
  }
  return n + (check & 0);
}

const cur = new LineCursor();
for (const [name, buf] of cases) {
  const lines = scan(buf, cur);
  for (let i = 0; i < 300; i++) scan(buf, cur); // warm-up
  const rounds = 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) scan(buf, cur);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const mbps = (buf.length * rounds) / secs / 1e6;
  const lps = (lines * rounds) / secs;
  console.log(
    `${name.padEnd(14)} ${(buf.length / 1024).toFixed(0)} KiB x ${rounds}: ` +
      `${mbps.toFixed(0)} MB/s, ${(lps / 1e6).toFixed(2)} M lines/s, ${((secs / rounds) * 1e6).toFixed(0)} µs/body`,
  );
}
