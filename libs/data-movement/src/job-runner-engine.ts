import { JobEngine, type JobPlan, JobRefusedError } from './job-model';

/** The engine the sentinel, the proxy and the admin CLI run jobs with. */
export function createJobEngine(): JobEngine {
  return new MissingEngine();
}

/** Until the engine lands on this branch: every job is refused. */
class MissingEngine extends JobEngine {
  async plan(): Promise<JobPlan> {
    throw new JobRefusedError('the data-movement engine is not built in');
  }
  async run(): Promise<void> {
    throw new Error('the data-movement engine is not built in');
  }
  async close(): Promise<void> {}
}
