// Counters and gauges in the Prometheus text exposition format (version 0.0.4), written by hand:
// the format is a few lines per family and a client library would be the larger dependency.
// Names follow the product's `aio_mq_` families (section 5 "Metrics"), so dashboards carry over.

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
  /** Gauges read at scrape time instead of being pushed. */
  collect?: () => Array<{ labels?: Labels; value: number }>;
}

/** One counter (a family and its label values) resolved once, for the per-message paths. */
export interface Counter {
  inc(by?: number): void;
}

export interface Metrics {
  inc(name: string, labels?: Labels, by?: number): void;
  /** The counter `inc(name, labels)` would bump, without looking it up on every call. */
  counter(name: string, labels?: Labels): Counter;
  /** Declare a family; `collect` makes it a gauge read at scrape time. */
  define(name: string, type: 'counter' | 'gauge', help: string, collect?: Family['collect']): void;
  get(name: string, labels?: Labels): number;
  render(): string;
}

const NO_LABELS: Labels = Object.freeze({});

export function createMetrics(): Metrics {
  const families = new Map<string, Family>();
  const key = (labels: Labels): string => {
    // counters are bumped per message: no sorting or arrays for the usual zero or one label
    let only: string | undefined;
    for (const k in labels) {
      if (only !== undefined)
        return Object.keys(labels)
          .sort()
          .map((k) => `${k}=${labels[k]}`)
          .join(',');
      only = k;
    }
    return only === undefined ? '' : `${only}=${labels[only]}`;
  };

  const cell = (name: string, labels: Labels): { labels: Labels; value: number } => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: name, type: 'counter', values: new Map() }));
    const k = key(labels);
    let v = f.values.get(k);
    if (!v) f.values.set(k, (v = { labels, value: 0 }));
    return v;
  };

  return {
    define(name, type, help, collect) {
      families.set(name, { help, type, values: families.get(name)?.values ?? new Map(), collect });
    },
    inc(name, labels = NO_LABELS, by = 1) {
      cell(name, labels).value += by;
    },
    counter(name, labels = NO_LABELS) {
      // the sample appears once it is first counted, as with inc()
      let c: { labels: Labels; value: number } | undefined;
      return { inc: (by = 1) => void ((c ??= cell(name, labels)).value += by) };
    },
    get(name, labels = {}) {
      const f = families.get(name);
      if (f?.collect) return f.collect().find((s) => key(s.labels ?? {}) === key(labels))?.value ?? 0;
      return f?.values.get(key(labels))?.value ?? 0;
    },
    render() {
      const lines: string[] = [];
      for (const [name, f] of families) {
        lines.push(`# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
        lines.push(`# TYPE ${name} ${f.type}`);
        const samples = f.collect ? f.collect() : [...f.values.values()];
        if (samples.length === 0 && f.type === 'counter') lines.push(`${name} 0`);
        for (const s of samples) lines.push(`${name}${formatLabels(s.labels ?? {})} ${s.value}`);
      }
      return lines.join('\n') + '\n';
    },
  };
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}
