import { InfluxJobEngine } from './influx-job-engine';
import type { JobEngine } from './job-model';

/**
 * The engine the sentinel, the proxy and the admin CLI run jobs with. `pointsPerWindow`: the points a
 * copy window is sized for (`--job-points-per-window`; absent: the engine's default).
 */
export function createJobEngine(options: { pointsPerWindow?: number } = {}): JobEngine {
  return new InfluxJobEngine(options.pointsPerWindow ? { pointsPerWindow: options.pointsPerWindow } : {});
}
