/**
 * RPC metrics under the names go-grpc-prometheus made standard (dashboards and alerts written for
 * Go services read them unchanged), plus a `port` label ("public" / "internal"):
 *
 *   grpc_server_started_total{port,grpc_type,grpc_service,grpc_method}
 *   grpc_server_handled_total{port,grpc_type,grpc_service,grpc_method,grpc_code}
 *   grpc_server_handling_seconds{port,grpc_type,grpc_service,grpc_method}   histogram, its buckets
 *
 * Why not prom-client's Counter and Histogram: their label children hash and validate the label
 * values on every increment (about 1.4 µs for the three updates of a call, measured), and the
 * internal port answers VerifySession for every request a backend serves. Here each method's
 * series is an object made once, when its handler is built (or on its first call on the public
 * port), and a call costs a few array increments; the figures are turned into Prometheus samples
 * only when scraped (`families()`, registered in prom-client's registry by cypher-metrics.ts).
 *
 * grpc_server_handled_total is written for code OK always and for other codes once they occurred
 * (go-grpc-prometheus writes either none or, after InitializeMetrics, all seventeen).
 */
import type { DescMethod } from "@bufbuild/protobuf";

/** go-grpc-prometheus's histogram buckets (Prometheus's DefBuckets), seconds. */
export const HANDLING_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** gRPC status codes by number, named as Go's codes.Code.String() (and so go-grpc-prometheus) writes them. */
export const GRPC_CODE_NAMES: readonly string[] = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];
const UNKNOWN_CODE = 2;

export type RpcPort = "public" | "internal";

const GRPC_TYPES: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

export interface RpcLabels {
  port: RpcPort;
  grpc_type: string;
  grpc_service: string;
  grpc_method: string;
}

/** One method on one port. */
export class RpcMethodSeries {
  started = 0;
  /** Calls answered, by gRPC status number. */
  readonly handled = new Float64Array(GRPC_CODE_NAMES.length);
  /** Calls per histogram bucket, not cumulative; the last slot holds those above the largest bound. */
  readonly buckets = new Float64Array(HANDLING_SECONDS_BUCKETS.length + 1);
  seconds = 0;

  constructor(readonly labels: RpcLabels) {}

  /** A call began. */
  start(): void {
    this.started++;
  }

  /** A call was answered with gRPC status `code` after `durationMs` (streams: when they end). */
  finish(code: number, durationMs: number): void {
    this.handled[code >= 0 && code < GRPC_CODE_NAMES.length ? code : UNKNOWN_CODE]!++;
    const seconds = durationMs / 1000;
    let bucket = 0;
    // Prometheus buckets are "less than or equal": a value on a bound belongs to that bound's bucket.
    while (bucket < HANDLING_SECONDS_BUCKETS.length && seconds > HANDLING_SECONDS_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.seconds += seconds;
  }
}

/** The series of one port, one per method, made on first use and kept. */
export class RpcPortMetrics {
  readonly #series = new Map<DescMethod, RpcMethodSeries>();

  constructor(
    readonly port: RpcPort,
    private readonly all: RpcMethodSeries[],
  ) {}

  series(method: DescMethod): RpcMethodSeries {
    let series = this.#series.get(method);
    if (series === undefined) {
      series = new RpcMethodSeries({
        port: this.port,
        grpc_type: GRPC_TYPES[method.methodKind],
        grpc_service: method.parent.typeName,
        grpc_method: method.name,
      });
      this.#series.set(method, series);
      this.all.push(series);
    }
    return series;
  }
}

/** A sample as prom-client's registry formats it. */
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples(): Sample[] | Promise<Sample[]>;
}

export class RpcMetrics {
  readonly #all: RpcMethodSeries[] = [];
  readonly public = new RpcPortMetrics("public", this.#all);
  readonly internal = new RpcPortMetrics("internal", this.#all);

  families(): MetricFamily[] {
    const all = this.#all;
    return [
      {
        name: "grpc_server_started_total",
        help: "Total number of RPCs started on the server.",
        type: "counter",
        samples: () => all.map((s) => ({ value: s.started, labels: { ...s.labels } })),
      },
      {
        name: "grpc_server_handled_total",
        help: "Total number of RPCs completed on the server, regardless of success or failure.",
        type: "counter",
        samples: () =>
          all.flatMap((s) => {
            const samples: Sample[] = [];
            s.handled.forEach((value, code) => {
              if (code === 0 || value > 0) samples.push({ value, labels: { ...s.labels, grpc_code: GRPC_CODE_NAMES[code]! } });
            });
            return samples;
          }),
      },
      {
        name: "grpc_server_handling_seconds",
        help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
        type: "histogram",
        samples: () =>
          all.flatMap((s) => {
            const samples: Sample[] = [];
            let cumulative = 0;
            HANDLING_SECONDS_BUCKETS.forEach((bound, i) => {
              cumulative += s.buckets[i]!;
              samples.push({ metricName: "grpc_server_handling_seconds_bucket", value: cumulative, labels: { ...s.labels, le: bound } });
            });
            cumulative += s.buckets[HANDLING_SECONDS_BUCKETS.length]!;
            samples.push({ metricName: "grpc_server_handling_seconds_bucket", value: cumulative, labels: { ...s.labels, le: "+Inf" } });
            samples.push({ metricName: "grpc_server_handling_seconds_sum", value: s.seconds, labels: { ...s.labels } });
            samples.push({ metricName: "grpc_server_handling_seconds_count", value: cumulative, labels: { ...s.labels } });
            return samples;
          }),
      },
    ];
  }
}
