/**
 * Private PostgreSQL and Redis servers for fault tests: other suites share the CI's PostgreSQL and
 * Redis, so those are never stopped. These are started, stopped and restarted at will.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export class OwnRedis {
  #child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return; // running
    this.#child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    await waitFor(() => canConnect(this.port), 10_000, "redis-server");
  }

  /** Stops it (SIGKILL: like a crash; nothing is kept). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
}

/** Where the PostgreSQL server binaries are (Debian layout), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().pop();
  const bin = version && path.join(root, version, "bin");
  return bin && existsSync(path.join(bin, "initdb")) ? bin : undefined;
}

/** A throw-away PostgreSQL cluster (initdb as the `postgres` user when running as root). */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<OwnPostgres> {
    const bin = postgresBinDir();
    if (!bin) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
    const parent = mkdtempSync(path.join(os.tmpdir(), "cypher-pg-"));
    chmodSync(parent, 0o777);
    const dir = path.join(parent, "data");
    const pg = new OwnPostgres(await freePort(), dir, bin);
    pg.#run(`${bin}/initdb -D ${dir} -A trust -U postgres --no-sync >/dev/null`);
    await pg.start();
    return pg;
  }

  #run(command: string): void {
    const asRoot = process.getuid?.() === 0;
    execFileSync("sh", ["-c", asRoot ? `su postgres -c '${command}'` : command], { stdio: "pipe" });
  }

  async start(): Promise<void> {
    this.#run(`${this.bin}/pg_ctl -D ${this.dir} -o "-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" -l ${this.dir}/../log -w start >/dev/null`);
    await waitFor(() => canConnect(this.port), 10_000, "postgres");
  }

  /** Stops it at once (fast mode: open connections are cut, as in a restart or failover). */
  async stop(): Promise<void> {
    this.#run(`${this.bin}/pg_ctl -D ${this.dir} -m fast -w stop >/dev/null`);
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // already stopped
    }
    rmSync(path.dirname(this.dir), { recursive: true, force: true });
  }
}
