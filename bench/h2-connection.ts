/**
 * A minimal HTTP/2 client connection for the load generator: prior-knowledge h2c, one fixed header
 * block per phase, unary gRPC calls. node:http2's client spends several times more CPU per request
 * than the servers under test do, and on a 2-core machine a load generator that needs a core to
 * itself caps what can be measured; this one writes frames straight to a socket.
 *
 * What it implements of RFC 9113: the preface and SETTINGS exchange (ACKs), PING replies, large
 * receive windows (one WINDOW_UPDATE refill for the connection as data arrives; streams get a
 * 2^31-1 initial window), the server's SETTINGS_MAX_CONCURRENT_STREAMS (calls past it wait here,
 * as real clients make them wait), HEADERS(+CONTINUATION), DATA (padding skipped), RST_STREAM and
 * GOAWAY. A failed call says why (the reset's or GOAWAY's error code, a closed socket).
 * Every call of a connection carries the same headers, HPACK-encoded as real clients do: the first
 * call adds them to the server's dynamic table (literals with incremental indexing, no Huffman),
 * later calls refer to them by index (a 6-byte block). Response header blocks are not decoded.
 *
 * Outcome of a unary gRPC call without decoding trailers: a server sends a response message (a
 * DATA frame) only when the call succeeds; an error is answered with headers/trailers alone. So a
 * call is OK when it received at least one 5-byte-prefixed message before END_STREAM. The bench
 * checks one call per phase with a real gRPC client first, and h2load cross-checks the counts.
 */
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
const MAX_WINDOW = 2 ** 31 - 1;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
/** HTTP/2 error codes (RFC 9113 §7), for the reason a failed call gives. */
const ERROR_CODES = [
  "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",
  "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
];
const errorName = (code: number) => ERROR_CODES[code] ?? `error ${code}`;

/** How a call ended: `ok` when it got a response message; otherwise why not. */
export type CallDone = (ok: boolean, failure?: string) => void;

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUIntBE(length, 0, 3);
  b.writeUInt8(type, 3);
  b.writeUInt8(flags, 4);
  b.writeUInt32BE(streamId & 0x7fffffff, 5);
  return b;
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/**
 * The header blocks for a fixed list of headers: `first` adds each header to the dynamic table
 * ("literal with incremental indexing, new name", RFC 7541 §6.2.1); `indexed` names them by their
 * dynamic-table index afterwards (§6.1; the newest entry is 62, so the first header is the highest).
 */
export function headerBlocks(headers: Array<[string, string]>): { first: Buffer; indexed: Buffer } {
  const bytes: number[] = [];
  for (const [name, value] of headers) {
    bytes.push(0x40, ...hpackInt(name.length, 7, 0), ...Buffer.from(name, "latin1"));
    bytes.push(...hpackInt(Buffer.byteLength(value), 7, 0), ...Buffer.from(value, "latin1"));
  }
  const indexed: number[] = [];
  for (let i = 0; i < headers.length; i++) indexed.push(...hpackInt(62 + headers.length - 1 - i, 7, 0x80));
  return { first: Buffer.from(bytes), indexed: Buffer.from(indexed) };
}

interface Pending {
  onDone: CallDone;
  gotMessage: boolean;
}

export class H2Connection {
  readonly #socket: net.Socket;
  readonly #streams = new Map<number, Pending>();
  #nextStreamId = 1;
  #received: Buffer = Buffer.alloc(0);
  #connectionWindowUsed = 0;
  /** Stream whose header block continues in CONTINUATION frames, and whether it ended the stream. */
  #continuing: { streamId: number; endStream: boolean } | undefined;
  #flushScheduled = false;
  /** Why new calls fail at once (a GOAWAY, a closed socket); undefined while the connection is usable. */
  #closedBecause: string | undefined;
  /** Bytes of DATA the server lets us send on the connection now (RFC 9113 §6.9). */
  #sendWindow = 65_535;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says). */
  #maxConcurrent = Infinity;
  /** Calls waiting for send window or for a stream slot, in order. */
  readonly #queued: Array<{ block: Buffer; body: Buffer; onDone: CallDone }> = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("close", () => this.#fail("connection closed"));
    socket.on("error", (error: NodeJS.ErrnoException) => this.#fail(`socket error ${error.code ?? error.message}`));
  }

  static connect(port: number, host = "127.0.0.1"): Promise<H2Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        const connection = new H2Connection(socket);
        const settings = Buffer.alloc(12);
        settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
        settings.writeUInt32BE(0, 2);
        settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
        settings.writeUInt32BE(MAX_WINDOW, 8);
        const windowUpdate = Buffer.alloc(4);
        windowUpdate.writeUInt32BE(MAX_WINDOW - 65_535, 0);
        socket.write(
          Buffer.concat([PREFACE, frameHeader(12, FRAME.SETTINGS, 0, 0), settings, frameHeader(4, FRAME.WINDOW_UPDATE, 0, 0), windowUpdate]),
        );
        resolve(connection);
      });
    });
  }

  get inFlight(): number {
    return this.#streams.size;
  }

  #headersIndexed = false;

  /** Sends one unary call (the headers, then `body` with END_STREAM). */
  request(blocks: { first: Buffer; indexed: Buffer }, body: Buffer, onDone: CallDone): void {
    const block = this.#headersIndexed ? blocks.indexed : blocks.first;
    this.#headersIndexed = true;
    this.#enqueue(block, body, onDone);
  }

  #enqueue(block: Buffer, body: Buffer, onDone: CallDone): void {
    if (this.#closedBecause !== undefined) {
      onDone(false, this.#closedBecause);
      return;
    }
    if (this.#queued.length > 0 || !this.#canSend(body)) {
      this.#queued.push({ block, body, onDone });
      return;
    }
    this.#send(block, body, onDone);
  }

  #canSend(body: Buffer): boolean {
    return body.length <= this.#sendWindow && this.#streams.size < this.#maxConcurrent;
  }

  /** Sends what waited, in order, as far as the window and the stream limit now allow. */
  #drain(): void {
    while (this.#queued.length > 0 && this.#closedBecause === undefined && this.#canSend(this.#queued[0]!.body)) {
      const next = this.#queued.shift()!;
      this.#send(next.block, next.body, next.onDone);
    }
  }

  #send(block: Buffer, body: Buffer, onDone: CallDone): void {
    this.#sendWindow -= body.length;
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    this.#streams.set(streamId, { onDone, gotMessage: false });
    // Frames of the same turn go out in one write.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#flushScheduled = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(frameHeader(block.length, FRAME.HEADERS, FLAG.END_HEADERS, streamId));
    this.#socket.write(block);
    this.#socket.write(frameHeader(body.length, FRAME.DATA, FLAG.END_STREAM, streamId));
    this.#socket.write(body);
  }

  close(): void {
    this.#closedBecause = "connection closed by the load generator";
    this.#socket.end();
  }

  #onData(chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    let offset = 0;
    const buf = this.#received;
    while (buf.length - offset >= 9) {
      const length = buf.readUIntBE(offset, 3);
      if (buf.length - offset < 9 + length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      const streamId = buf.readUInt32BE(offset + 5) & 0x7fffffff;
      const payload = buf.subarray(offset + 9, offset + 9 + length);
      offset += 9 + length;
      this.#onFrame(type, flags, streamId, payload);
    }
    this.#received = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset);
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FRAME.SETTINGS:
        if (flags & FLAG.ACK) return;
        for (let at = 0; at + 6 <= payload.length; at += 6) {
          if (payload.readUInt16BE(at) === SETTINGS_MAX_CONCURRENT_STREAMS) this.#maxConcurrent = payload.readUInt32BE(at + 2);
        }
        this.#socket.write(frameHeader(0, FRAME.SETTINGS, FLAG.ACK, 0));
        this.#drain();
        return;
      case FRAME.PING:
        if (!(flags & FLAG.ACK)) this.#socket.write(Buffer.concat([frameHeader(8, FRAME.PING, FLAG.ACK, 0), payload]));
        return;
      case FRAME.DATA: {
        this.#connectionWindowUsed += payload.length;
        if (this.#connectionWindowUsed > 2 ** 30) {
          const increment = Buffer.alloc(4);
          increment.writeUInt32BE(this.#connectionWindowUsed, 0);
          this.#socket.write(Buffer.concat([frameHeader(4, FRAME.WINDOW_UPDATE, 0, 0), increment]));
          this.#connectionWindowUsed = 0;
        }
        const pending = this.#streams.get(streamId);
        const padding = flags & FLAG.PADDED ? payload[0]! + 1 : 0;
        if (pending && payload.length - padding >= 5) pending.gotMessage = true;
        if (flags & FLAG.END_STREAM) this.#finish(streamId);
        return;
      }
      case FRAME.HEADERS:
        if (!(flags & FLAG.END_HEADERS)) this.#continuing = { streamId, endStream: (flags & FLAG.END_STREAM) !== 0 };
        else if (flags & FLAG.END_STREAM) this.#finish(streamId);
        return;
      case FRAME.CONTINUATION:
        if (flags & FLAG.END_HEADERS && this.#continuing?.streamId === streamId) {
          const { endStream } = this.#continuing;
          this.#continuing = undefined;
          if (endStream) this.#finish(streamId);
        }
        return;
      case FRAME.RST_STREAM: {
        const pending = this.#streams.get(streamId);
        this.#streams.delete(streamId);
        pending?.onDone(false, `RST_STREAM ${errorName(payload.readUInt32BE(0))}`);
        this.#drain();
        return;
      }
      case FRAME.GOAWAY: {
        // Calls the server already took (up to its last stream id) still complete; the rest never will.
        const reason = (this.#closedBecause = `GOAWAY ${errorName(payload.readUInt32BE(4))}`);
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        for (const [id, pending] of this.#streams) {
          if (id <= lastStreamId) continue;
          this.#streams.delete(id);
          pending.onDone(false, reason);
        }
        for (const q of this.#queued.splice(0)) q.onDone(false, reason);
        return;
      }
      case FRAME.WINDOW_UPDATE:
        if (streamId === 0) {
          this.#sendWindow += payload.readUInt32BE(0) & 0x7fffffff;
          this.#drain();
        }
        return;
      default:
        return; // PRIORITY, unknown: nothing to do; stream windows are far above our bodies
    }
  }

  #finish(streamId: number): void {
    const pending = this.#streams.get(streamId);
    if (!pending) return;
    this.#streams.delete(streamId);
    pending.onDone(pending.gotMessage, pending.gotMessage ? undefined : "no response message (an error status)");
    this.#drain();
  }

  #fail(reason: string): void {
    this.#closedBecause ??= reason;
    const pending = [...this.#streams.values()];
    this.#streams.clear();
    for (const p of pending) p.onDone(false, reason);
    for (const q of this.#queued.splice(0)) q.onDone(false, reason);
  }
}
