/**
 * The three binaries' command lines as an operator meets them: --version prints package.json's
 * version, --help fits 80 columns (or a narrower terminal) with no column running into the next,
 * and an unknown flag is named once.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './support/processes';

const VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
const BINARIES = ['influxdb-proxy', 'influxdb-sentinel', 'influxdb-proxy-passwd'];
const YARGS_BINARIES = ['influxdb-proxy', 'influxdb-sentinel'];

function run(binary: string, args: string[]) {
  const result = spawnSync(path.join(REPO_ROOT, 'bin', binary), args, { encoding: 'utf8', timeout: 20_000, input: '' });
  if (result.error) throw result.error;
  return result;
}

/** Runs `binary --help` on a pseudo-terminal `columns` wide (script(1) gives it one). */
function helpOnTerminal(binary: string, columns: number): string {
  const command = `stty cols ${columns} && ${path.join(REPO_ROOT, 'bin', binary)} --help`;
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw result.error;
  expect(result.status).toBe(0);
  return result.stdout.replace(/\r/g, '');
}

/** Every way a help text can be unreadable: too wide, a flag touching its description, a description touching its tags. */
function expectReadable(help: string, width: number) {
  const lines = help.split('\n');
  expect(lines.filter((line) => line.length > width)).toEqual([]);
  expect(lines.filter((line) => /\S\[(string|number|boolean)\]/.test(line))).toEqual([]);
  expect(lines.filter((line) => /^ {2}-/.test(line) && !/^ {2}--[a-z-]+( {2,}\S.*)?$/.test(line))).toEqual([]);
}

describe('command lines', () => {
  it.each(BINARIES)('%s --version prints package.json’s version and exits 0', (binary) => {
    const result = run(binary, ['--version']);
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: `${VERSION}\n`,
      stderr: '',
    });
  });

  it.each(YARGS_BINARIES)('%s --help is readable at 80 columns when piped', (binary) => {
    const result = run(binary, ['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/--version +Show version number/);
    for (const flag of ['--config', '--log-level', '--membership-ttl', '--help']) expect(result.stdout).toContain(`  ${flag} `);
    expectReadable(result.stdout, 80);
  });

  it.each(YARGS_BINARIES)('%s --help is readable on narrower terminals, where yargs would glue columns', (binary) => {
    for (const columns of [43, 52, 63, 76]) expectReadable(helpOnTerminal(binary, columns), columns);
  });

  it.each(BINARIES)('%s names an unknown flag once and fails', (binary) => {
    const result = run(binary, ['--bogus-flag', '1']);
    expect(result.status).toBe(binary === 'influxdb-proxy-passwd' ? 2 : 1);
    expect(result.stderr.match(/bogus-?flag/gi)).toEqual(['bogus-flag']);
  });
});
