import { openRootLogger } from '@app/logging';
import cluster from 'node:cluster';
import { parseProxyArgs } from './cli/proxy-options';
import { groupLogSettings } from './workers/worker-layout';
import { WorkerSupervisor } from './workers/worker-supervisor';

/** The longest a SIGTERM/SIGINT shutdown may take: the listener's 30 s drain, then the backends' flush. */
export const SHUTDOWN_LIMIT_MS = 90_000;

/**
 * `--workers 1`: this process is the proxy. `--workers N`: this process supervises N workers, each of
 * them the proxy (proxy-main.ts), loaded only where it runs: the supervisor keeps no Nest app in memory.
 */
async function bootstrap(): Promise<void> {
  const parsed = parseProxyArgs(process.argv.slice(2));
  if (parsed.workers > 1 && cluster.isPrimary) {
    const { logger, exit } = openRootLogger(groupLogSettings(parsed, 'supervisor'), { node: parsed.node, worker: 'supervisor' });
    await new WorkerSupervisor(parsed, logger, exit, SHUTDOWN_LIMIT_MS).run();
    return;
  }
  const { runProxy } = await import('./proxy-main');
  await runProxy(parsed, SHUTDOWN_LIMIT_MS);
}

void bootstrap();
