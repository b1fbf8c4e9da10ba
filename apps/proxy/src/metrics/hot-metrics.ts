import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the hot path, exposed through a prom-client Registry. prom-client's own
 * label children hash their labels into a string on every inc()/observe() (~200–450 ns here); these
 * keep one plain cell per label set, made once, and a bump is a number added. Values are read only
 * when the registry is scraped.
 */

type Labels = Record<string, string>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** What prom-client's Registry reads from a metric. */
interface RegistryMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

function labelsOf(names: readonly string[], values: readonly string[]): Labels {
  if (values.length !== names.length) throw new Error(`expected ${names.length} label values, got ${values.length}`);
  const labels: Labels = {};
  names.forEach((n, i) => (labels[n] = values[i]));
  return labels;
}

/** One series of a HotCounter. */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(by = 1): void {
    this.value += by;
  }
}

export class HotCounter implements RegistryMetric {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  private readonly cells = new Map<string, CounterCell>();
  private readonly unlabeled?: CounterCell;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
    if (labelNames.length === 0) this.unlabeled = this.labels();
  }

  /** The cell of these label values (made on first use; keep it and bump it). */
  labels(...values: string[]): CounterCell {
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (!cell) {
      if (values.some((v) => v.includes('\u0000'))) throw new Error('label value with a NUL byte');
      cell = new CounterCell(labelsOf(this.labelNames, values));
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Adds to the series of a counter without labels. */
  inc(by = 1): void {
    (this.unlabeled ?? this.labels()).inc(by);
  }

  /** The sum of every series (a count across all label values). */
  total(): number {
    let sum = 0;
    for (const cell of this.cells.values()) sum += cell.value;
    return sum;
  }

  /** Each series' value by the value of its one label, in the order the series were made (a one-label counter). */
  byLabel(): Record<string, number> {
    if (this.labelNames.length !== 1) throw new Error(`${this.name} has ${this.labelNames.length} labels, byLabel() reads one`);
    const out: Record<string, number> = {};
    const name = this.labelNames[0];
    for (const cell of this.cells.values()) out[cell.labels[name]] = cell.value;
    return out;
  }

  async get() {
    const values: MetricValue[] = [];
    for (const cell of this.cells.values()) values.push({ value: cell.value, labels: { ...cell.labels } });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const cell of this.cells.values()) cell.value = 0;
  }
}

/** One series of a HotHistogram. */
export class HistogramCell {
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram implements RegistryMetric {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  labels(...values: string[]): HistogramCell {
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (!cell) {
      cell = new HistogramCell(labelsOf(this.labelNames, values), this.buckets);
      this.cells.set(key, cell);
    }
    return cell;
  }

  async get() {
    const values: MetricValue[] = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += cell.counts[i];
        const le = i < this.buckets.length ? this.buckets[i] : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, value: cumulative, labels: { le, ...cell.labels } });
      }
      values.push({ metricName: `${this.name}_sum`, value: cell.sum, labels: { ...cell.labels } });
      values.push({ metricName: `${this.name}_count`, value: cell.count, labels: { ...cell.labels } });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const cell of this.cells.values()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
