/**
 * A TCP proxy in front of a real service (Redis, here) that a test can take away and bring back:
 * `stop()` drops every connection and refuses new ones (the service "goes away"), `start()` listens
 * again on the same port, `stall()`/`resume()` hold traffic on open connections (a hung network).
 */
import net from "node:net";

export class TcpProxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  #stalled = false;
  readonly #held: Array<() => void> = [];
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens (again, on the same port after a stop) and forwards every connection to the target. */
  async start(): Promise<void> {
    if (this.#server?.listening) return;
    this.#server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      const forward = (from: net.Socket, to: net.Socket) =>
        from.on("data", (chunk) => {
          if (this.#stalled) this.#held.push(() => to.write(chunk));
          else to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
  }

  /** Redis "goes away": every connection drops and new ones are refused. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  /** Redis stops answering but the connections stay open (a stalled server or network). */
  stall(): void {
    this.#stalled = true;
  }

  /** Traffic flows again, in order, starting with what was held back. */
  resume(): void {
    this.#stalled = false;
    for (const deliver of this.#held.splice(0)) deliver();
  }
}
