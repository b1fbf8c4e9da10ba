import { Writable } from 'node:stream';
import pino from 'pino';
import { PinoNestLogger } from './pino-nest.logger';

function capture(): { logger: PinoNestLogger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  const logger = new PinoNestLogger(pino({ base: undefined, level: 'info' }, stream));
  return {
    logger,
    lines: () =>
      out
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
  };
}

describe('PinoNestLogger', () => {
  it('turns an object message into the line’s fields (reqId on per-request lines)', async () => {
    const { logger, lines } = capture();
    logger.warn({ msg: 'write r1: dropped 1 lines', reqId: 'r1', lines: 3 }, 'WriteHandler');
    logger.log('plain', 'Ctx');
    logger.debug('below the level', 'Ctx');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines()).toEqual([
      expect.objectContaining({ level: 40, msg: 'write r1: dropped 1 lines', reqId: 'r1', lines: 3, context: 'WriteHandler' }),
      expect.objectContaining({ level: 30, msg: 'plain', context: 'Ctx' }),
    ]);
  });

  it('never writes a password: p= parameters and InfluxQL password literals are redacted', async () => {
    const { logger, lines } = capture();
    logger.warn(`query 7 refused: "CREATE USER u WITH PASSWORD 'hunter2'"`, 'QueryHandler');
    logger.error({ msg: 'failed /query?u=a&p=hunter3', reqId: '7' }, undefined, 'ProxyServer');
    await new Promise((resolve) => setImmediate(resolve));
    const text = JSON.stringify(lines());
    expect(text).not.toMatch(/hunter/);
    expect(lines()[1]).toMatchObject({ level: 50, reqId: '7', context: 'ProxyServer' });
  });
});
