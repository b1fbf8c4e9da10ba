/**
 * Runs the built admin CLI (`bin/influxdb-proxy-admin`) as an operator would, bounded in time.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './processes';

export const ADMIN_BIN = path.join(REPO_ROOT, 'bin', 'influxdb-proxy-admin');

export interface AdminRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `influxdb-proxy-admin ...args` to its end (killed after `timeoutMs`). */
export function admin(args: string[], timeoutMs = 60_000): Promise<AdminRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(ADMIN_BIN, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`influxdb-proxy-admin ${args.join(' ')} did not end within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The job id a `recorded job <id> (…)` line names. */
export function recordedJobId(run: AdminRun): string {
  const m = /recorded job (\S+)/.exec(run.stdout);
  if (!m) throw new Error(`no job was recorded: code ${run.code}, stdout: ${run.stdout} stderr: ${run.stderr}`);
  return m[1];
}
