/**
 * A private Redis Cluster for tests, made from `redis-server` binaries on free local ports: N
 * masters (and optionally one replica each), joined with `redis-cli --cluster create`. Nothing
 * is persisted; `destroy()` kills the servers and removes their directory. Start one per test
 * file (a start takes a second or two), never one per test.
 *
 * A machine without redis-server fails the start loudly: these tests must never skip quietly.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "./own-services.js";

const run = promisify(execFile);

interface Node {
  port: number;
  busPort: number;
  child: ChildProcess;
  /** Stopped with SIGSTOP: its sockets stay open but it never answers. */
  frozen?: boolean;
}

export interface OwnRedisClusterOptions {
  masters?: number;
  /** Replicas per master (0 or 1 here). */
  replicas?: number;
  /** cluster-node-timeout: how long a silent master takes to be declared failed. Default 2000. */
  nodeTimeoutMs?: number;
}

export class OwnRedisCluster {
  private constructor(
    private readonly dir: string,
    private readonly nodes: Node[],
  ) {}

  static async start(options: OwnRedisClusterOptions = {}): Promise<OwnRedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 0;
    try {
      await run("redis-server", ["--version"]);
      await run("redis-cli", ["--version"]);
    } catch (error) {
      throw new Error("Redis Cluster tests need the redis-server and redis-cli binaries (Debian package redis-server) on PATH", { cause: error });
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-redis-cluster-"));
    const nodes: Node[] = [];
    const cluster = new OwnRedisCluster(dir, nodes);
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const [port, busPort] = [await freePort(), await freePort()];
        nodes.push({ port, busPort, child: cluster.#spawn(port, busPort, options.nodeTimeoutMs ?? 2_000) });
      }
      for (const node of nodes) await cluster.#waitFor(async () => (await cluster.cli(node.port, "ping").catch(() => "")) === "PONG", `redis-server on ${node.port}`);
      await run("redis-cli", [
        "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas", String(replicas), "--cluster-yes",
      ], { timeout: 30_000 });
      await cluster.waitUntilHealthy();
      return cluster;
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  /** REDIS_CLUSTER_NODES for these nodes. */
  get nodesEnv(): string {
    return this.seeds.map((s) => `${s.host}:${s.port}`).join(",");
  }

  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: "127.0.0.1", port: n.port }));
  }

  /** `redis-cli -p PORT args…`, trimmed output. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 5_000 });
    return stdout.trim();
  }

  /** The port of the master that owns `slot` now, as the first live node that answers sees it. */
  async masterOf(slot: number): Promise<number> {
    for (const node of this.#alive()) {
      const redis = new Redis({ host: "127.0.0.1", port: node.port, lazyConnect: true, retryStrategy: () => null, commandTimeout: 2_000 });
      try {
        await redis.connect();
        const ranges = await redis.cluster("SLOTS");
        const range = ranges.find(([first, last]) => first <= slot && slot <= last);
        const master = range?.[2];
        if (master) return Number(master[1]);
      } catch {
        // this node is down or has no opinion: ask the next
      } finally {
        redis.disconnect();
      }
    }
    throw new Error(`no node owns slot ${slot}`);
  }

  /** Kills one node (SIGKILL: a crash). */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return;
    const exited = new Promise((resolve) => node.child.once("exit", resolve));
    node.child.kill("SIGKILL");
    await exited;
  }

  /**
   * Freezes one node (SIGSTOP): a hung host or a network partition rather than a crash. Its
   * connections stay open and silent, so clients learn of it only from timeouts or the others.
   */
  async freeze(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return;
    node.frozen = true;
    node.child.kill("SIGSTOP");
  }

  /**
   * Waits until every live node reports cluster_state:ok and agrees on who owns every slot, and
   * every replica has finished its sync with its master. A replica whose link to its master was
   * never up refuses to fail over, forever ("Disconnected from master for longer than allowed":
   * its data age counts from the epoch), so a master killed before that point is never replaced.
   */
  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    await this.#waitFor(async () => {
      for (const node of this.#alive()) {
        const info = await this.cli(node.port, "cluster", "info").catch(() => "");
        if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
        const replication = await this.cli(node.port, "info", "replication").catch(() => "");
        if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
      }
      return true;
    }, "cluster_state:ok and synced replicas on every node", timeoutMs);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  #alive(): Node[] {
    return this.nodes.filter((n) => !n.frozen && n.child.exitCode === null && n.child.signalCode === null);
  }

  #spawn(port: number, busPort: number, nodeTimeoutMs: number): ChildProcess {
    const child = spawn("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1",
      "--cluster-enabled", "yes", "--cluster-port", String(busPort),
      "--cluster-config-file", path.join(this.dir, `nodes-${port}.conf`),
      "--cluster-node-timeout", String(nodeTimeoutMs),
      // A new replica's first sync would otherwise wait 5 s for more replicas to share it.
      "--repl-diskless-sync-delay", "0",
      "--save", "", "--appendonly", "no", "--dir", this.dir,
    ], { stdio: "ignore" });
    child.on("error", () => {}); // a failed spawn shows up as a node that never answers
    return child;
  }

  async #waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
}
