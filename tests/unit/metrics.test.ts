/**
 * The metric building blocks on their own: RPC series (bucket bounds, code names, exposition as
 * go-grpc-prometheus writes it), the storage probe (timeout, no pile-up), and the domain counters.
 */
import { describe, expect, it } from "vitest";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { CypherMetrics } from "../../server/metrics/cypher-metrics.js";
import { GRPC_CODE_NAMES, RpcMetrics } from "../../server/metrics/rpc-metrics.js";
import { StorageProbe } from "../../server/metrics/storage-probe.js";

const verify = SessionService.method.verifySession;

describe("RPC series", () => {
  it("names codes as Go does, and puts a value on a bound into that bound's bucket", async () => {
    expect(GRPC_CODE_NAMES[16]).toBe("Unauthenticated");
    expect(GRPC_CODE_NAMES[8]).toBe("ResourceExhausted");
    const rpc = new RpcMetrics();
    const series = rpc.internal.series(verify);
    expect(rpc.internal.series(verify)).toBe(series); // made once
    series.start();
    series.start();
    series.start();
    series.finish(0, 5); // 0.005 s: exactly on the first bound
    series.finish(16, 5.001);
    series.finish(99, 20_000); // not a gRPC code: Unknown; beyond the last bound
    const [started, handled, histogram] = await Promise.all(rpc.families().map((f) => f.samples()));
    const labels = { port: "internal", grpc_type: "unary", grpc_service: "cypher.session.v1.SessionService", grpc_method: "VerifySession" };
    expect(started).toEqual([{ value: 3, labels }]);
    expect(handled).toEqual([
      { value: 1, labels: { ...labels, grpc_code: "OK" } },
      { value: 1, labels: { ...labels, grpc_code: "Unknown" } },
      { value: 1, labels: { ...labels, grpc_code: "Unauthenticated" } },
    ]);
    const bucket = (le: number | string) => histogram!.find((s) => s.labels.le === le)!.value;
    expect(bucket(0.005)).toBe(1);
    expect(bucket(0.01)).toBe(2);
    expect(bucket(10)).toBe(2);
    expect(bucket("+Inf")).toBe(3);
    expect(histogram!.find((s) => s.metricName === "grpc_server_handling_seconds_count")!.value).toBe(3);
    expect(histogram!.find((s) => s.metricName === "grpc_server_handling_seconds_sum")!.value).toBeCloseTo(20.010001, 6);
  });

  it("keeps ports and streaming kinds apart", async () => {
    const rpc = new RpcMetrics();
    rpc.public.series(Health.method.watch).start();
    rpc.internal.series(Health.method.watch).start();
    const started = await rpc.families()[0]!.samples();
    expect(started.map((s) => [s.labels.port, s.labels.grpc_type])).toEqual([
      ["public", "server_stream"],
      ["internal", "server_stream"],
    ]);
  });
});

describe("StorageProbe", () => {
  it("reads up with the ping's time, down on failure, false or timeout, and never stacks pings", async () => {
    expect(await new StorageProbe(async () => true).read()).toMatchObject({ up: true });
    expect(await new StorageProbe(async () => false).read()).toMatchObject({ up: false });
    expect(await new StorageProbe(() => Promise.reject(new Error("down"))).read()).toMatchObject({ up: false });
    let pings = 0;
    let answer: () => void = () => {};
    const hanging = new StorageProbe(() => {
      pings++;
      return new Promise<void>((resolve) => (answer = resolve));
    }, 20);
    expect(await hanging.read()).toMatchObject({ up: false });
    expect(await hanging.read()).toMatchObject({ up: false });
    expect(pings).toBe(1);
    answer();
    await new Promise((r) => setTimeout(r, 0));
    expect(await hanging.read()).toMatchObject({ up: false }); // a new ping, which hangs too
    expect(pings).toBe(2);
  });
});

describe("CypherMetrics", () => {
  it("counts domain events into their families and reads sources at each scrape", async () => {
    const metrics = new CypherMetrics();
    metrics.count("login.succeeded");
    metrics.count("registration.second_factor_capped");
    let streams = 2;
    metrics.watch({ revocationWatchStreams: () => streams });
    const first = (await metrics.render()).body;
    expect(first).toMatch(/^cypher_logins_total\{outcome="succeeded"\} 1$/m);
    expect(first).toMatch(/^cypher_logins_total\{outcome="password_rejected"\} 0$/m);
    expect(first).toMatch(/^cypher_registrations_total\{outcome="second_factor_capped"\} 1$/m);
    expect(first).toMatch(/^cypher_second_factor_caps_total\{flow="enrollment"\} 1$/m);
    expect(first).toMatch(/^cypher_revocation_watch_streams 2$/m);
    // No pool registered (OPAQUE inline): the family has no sample rather than a made-up 0.
    expect(first).not.toMatch(/^cypher_opaque_worker_threads /m);
    streams = 0;
    expect((await metrics.render()).body).toMatch(/^cypher_revocation_watch_streams 0$/m);
  });
});
