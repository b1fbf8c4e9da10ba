/**
 * Jest globalSetup for the e2e project: builds the apps once (`npm run build`) so the tests run
 * the same entry points an operator would. Set SKIP_BUILD=1 to use an existing build.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export default function globalSetup(): void {
  if (process.env.SKIP_BUILD === '1') {
    process.stderr.write('\n[e2e] SKIP_BUILD=1: using the existing build\n');
    return;
  }
  const root = path.resolve(__dirname, '..', '..');
  process.stderr.write('\n[e2e] npm run build\n');
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  if (result.error) {
    throw new Error(`[e2e] could not run npm run build: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `[e2e] npm run build failed (exit ${result.status}${result.signal ? `, signal ${result.signal}` : ''}):\n${result.stdout}`,
    );
  }
}
