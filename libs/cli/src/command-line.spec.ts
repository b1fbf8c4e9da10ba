import yargs from 'yargs';
import { helpWidth, unglueHelpColumns, unknownFlags } from './command-line';

describe('unknownFlags', () => {
  it('names a dashed flag once, as typed, not also as the camelCase key the parser adds', () => {
    const parsed = yargs().parserConfiguration({ 'camel-case-expansion': true }).parseSync(['--bogus-flag', 'x', '--node', 'p1']);
    expect(Object.keys(parsed)).toContain('bogusFlag');
    expect(unknownFlags(parsed, ['node'])).toEqual(['bogus-flag']);
  });

  it('knows declared flags by both spellings, and keeps a camelCase flag typed as such', () => {
    const parsed = { _: [], $0: 'x', 'spool-dir': 's', spoolDir: 's', otherFlag: 1, zz: true };
    expect(unknownFlags(parsed, ['spool-dir'])).toEqual(['otherFlag', 'zz']);
    expect(unknownFlags({ _: [], $0: 'x', 'a-b': 1, aB: 1, 'c-d': 2, cD: 2 }, [])).toEqual(['a-b', 'c-d']);
  });
});

describe('unglueHelpColumns', () => {
  it('moves type and default tags that touch the description to a right-aligned line of their own', () => {
    const glued = '  --store-timeout  seconds start-up waits before failing[number] [default: 5]';
    expect(unglueHelpColumns(`Options:\n${glued}\n  --x  y  [string]`, 60).split('\n')).toEqual([
      'Options:',
      '  --store-timeout  seconds start-up waits before failing',
      `${' '.repeat(60 - 21)}[number] [default: 5]`,
      '  --x  y  [string]',
    ]);
  });

  it('leaves brackets inside descriptions alone', () => {
    const line = '  --redis  redis://[user:pwd@]host:port[/db] (Go proxy layout)  [string]';
    expect(unglueHelpColumns(line, 80)).toBe(line);
  });

  it('leaves no touching columns in what yargs lays out at any width from 40 to 80', () => {
    const parser = yargs()
      .option('store-timeout', { type: 'number', description: 'seconds start-up waits for Redis/etcd before failing', default: 5 })
      .option('etcd-user', { type: 'string', description: 'etcd user (password auth)' })
      .option('log-rotate-compress', { type: 'boolean', description: 'gzip rotated log files', default: false })
      .option('slot-ttl', { type: 'number', description: 'seconds a proxy keeps a replay slot it can no longer see renewed', default: 10 });
    let gluedWidths = 0;
    for (let width = 40; width <= 80; width++) {
      let help = '';
      parser.wrap(width).showHelp((text) => (help = text));
      if (/\S\[(number|string|boolean)\]/.test(help)) gluedWidths++;
      const fixed = unglueHelpColumns(help, width);
      expect(fixed).not.toMatch(/\S\[(number|string|boolean)\]/);
      for (const line of fixed.split('\n')) expect(line.length).toBeLessThanOrEqual(width);
    }
    expect(gluedWidths).toBeGreaterThan(0); // yargs does glue some of them: the case above is real
  });
});

describe('helpWidth', () => {
  it('follows the terminal up to 80 columns, and is 80 when there is no terminal', () => {
    expect(helpWidth(undefined)).toBe(80);
    expect(helpWidth(200)).toBe(80);
    expect(helpWidth(64)).toBe(64);
    expect(helpWidth(10)).toBe(40);
  });
});
