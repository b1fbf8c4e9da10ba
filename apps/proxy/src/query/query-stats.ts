import { Injectable } from '@nestjs/common';

/** Counters of the query path that operators look for (the guard's refusals above all). */
@Injectable()
export class QueryStats {
  /** Refusals by the guard, by reason (`max-select-buckets`, `unbounded-raw-select`). */
  readonly guardRefusals: Record<string, number> = {};

  countGuardRefusal(reason: string): void {
    this.guardRefusals[reason] = (this.guardRefusals[reason] ?? 0) + 1;
  }
}
