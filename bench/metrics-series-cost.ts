/**
 * The metrics' own share of a call, apart from the server: what one call's RPC-metric updates cost
 * (start, then finish with a code and a duration), with rpc-metrics.ts's per-method series and,
 * for comparison, with prom-client's label children (the alternative rpc-metrics.ts explains not
 * taking). CPU time, one thread, several runs; prints each run and the medians.
 *
 *   npx tsx bench/metrics-series-cost.ts          (BENCH_CALLS=1000000 BENCH_RUNS=7)
 */
import { Counter, Histogram, Registry } from "prom-client";
import { SessionService } from "../gen/cypher/session/v1/session_pb.js";
import { HANDLING_SECONDS_BUCKETS, RpcMetrics } from "../server/metrics/rpc-metrics.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const series = new RpcMetrics().internal.series(SessionService.method.verifySession);
const registry = new Registry();
const labelNames = ["port", "grpc_type", "grpc_service", "grpc_method"] as const;
const started = new Counter({ name: "s_total", help: "s", labelNames, registers: [registry] });
const handled = new Counter({ name: "h_total", help: "h", labelNames: [...labelNames, "grpc_code"], registers: [registry] });
const seconds = new Histogram({ name: "d_seconds", help: "d", labelNames, buckets: [...HANDLING_SECONDS_BUCKETS], registers: [registry] });
const labels = ["internal", "unary", "cypher.session.v1.SessionService", "VerifySession"] as const;
const startedChild = started.labels(...labels);
const handledChild = handled.labels(...labels, "OK");
const secondsChild = seconds.labels(...labels);

const cpuNsPerCall = (body: (i: number) => void) => {
  const before = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) body(i);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / CALLS;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const ours: number[] = [];
const promClient: number[] = [];
for (let run = 0; run < RUNS; run++) {
  ours.push(cpuNsPerCall((i) => {
    series.start();
    series.finish(0, 0.05 + (i % 7) * 0.01);
  }));
  promClient.push(cpuNsPerCall((i) => {
    startedChild.inc();
    handledChild.inc();
    secondsChild.observe((0.05 + (i % 7) * 0.01) / 1000);
  }));
  console.log(`run ${run + 1}: rpc-metrics.ts series ${ours.at(-1)!.toFixed(1)} ns/call, prom-client children ${promClient.at(-1)!.toFixed(1)} ns/call`);
}
console.log(`median of ${RUNS} runs × ${CALLS} calls: rpc-metrics.ts series ${median(ours).toFixed(1)} ns/call, prom-client children ${median(promClient).toFixed(1)} ns/call`);
