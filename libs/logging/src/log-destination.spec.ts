import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LogOptionError, normalizeRotation, openLogDestination } from './log-destination';

describe('log destination', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'proxy-logs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates by size the classic way: the live file keeps its name, FILE.1 … FILE.keep', async () => {
    const path = join(dir, 'sub', 'proxy.log');
    const logs = openLogDestination(path, { size: '1K', keep: 2, compress: false });
    const logger = pino({ base: undefined }, logs.stream);
    for (let i = 0; i < 40; i++) {
      logger.info({ i }, 'x'.repeat(100));
      // let each write (and a rotation it triggers) finish
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    logger.info('last');
    await logs.close();
    const files = readdirSync(join(dir, 'sub')).sort();
    expect(files).toEqual(['proxy.log', 'proxy.log.1', 'proxy.log.2']);
    const live = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(live[live.length - 1]).msg).toBe('last');
    for (const f of files) expect(readFileSync(join(dir, 'sub', f)).length).toBeLessThan(1024 + 200);
  });

  it('writes to the file as is when no rotation is asked for', async () => {
    const path = join(dir, 'proxy.log');
    const logs = openLogDestination(path, undefined);
    const logger = pino({ base: undefined }, logs.stream);
    logger.info({ reqId: 'r1' }, 'hello');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await logs.close();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ reqId: 'r1', msg: 'hello' });
  });

  it('accepts daily/hourly and checks sizes and intervals', () => {
    expect(normalizeRotation({ interval: 'daily', keep: 7, compress: false }).interval).toBe('1d');
    expect(normalizeRotation({ interval: 'hourly', keep: 7, compress: false }).interval).toBe('1h');
    expect(normalizeRotation({ size: '100M', interval: '12h', keep: 3, compress: true })).toMatchObject({ size: '100M' });
    expect(() => normalizeRotation({ size: '100MB', keep: 7, compress: false })).toThrow(LogOptionError);
    expect(() => normalizeRotation({ interval: 'weekly', keep: 7, compress: false })).toThrow(/--log-rotate-interval/);
    expect(() => normalizeRotation({ size: '1M', keep: 0, compress: false })).toThrow(/--log-rotate-keep/);
  });
});
