/**
 * clientAddress(): the client IP behind TRUST_PROXY hops, and the TRUST_PROXY setting itself.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config.js";
import { clientAddress } from "../../server/transport/request-meta.js";

describe("clientAddress", () => {
  const socket = "10.0.0.9";

  it("ignores X-Forwarded-For without trusted hops", () => {
    expect(clientAddress(socket, "203.0.113.50", 0)).toBe(socket);
  });

  it("takes the N-th address from the end: what our proxies recorded, not what the client wrote", () => {
    expect(clientAddress(socket, "198.51.100.1, 203.0.113.50", 1)).toBe("203.0.113.50");
    expect(clientAddress(socket, "198.51.100.1,203.0.113.50 , 10.0.0.2", 2)).toBe("203.0.113.50");
    expect(clientAddress(socket, "203.0.113.50", 1)).toBe("203.0.113.50");
    expect(clientAddress(socket, "2001:db8::7, 2001:DB8::1", 1)).toBe("2001:DB8::1");
  });

  it("with fewer entries than trusted hops, takes the first: every entry present came from a trusted proxy", () => {
    expect(clientAddress(socket, "203.0.113.50", 2)).toBe("203.0.113.50");
    expect(clientAddress(socket, "203.0.113.50, 10.0.0.2", 3)).toBe("203.0.113.50");
  });

  it("falls back to the socket's address for anything that is not an IP address", () => {
    for (const header of ["<script>alert(1)</script>", "198.51.100.1, <script>", "203.0.113.50:4711", "unknown", "", " , ", "[2001:db8::1]", "example.com"]) {
      expect(clientAddress(socket, header, 1), header).toBe(socket);
    }
    expect(clientAddress(socket, null, 1)).toBe(socket);
  });

  it("reads an IPv4-mapped IPv6 address as the IPv4 address", () => {
    expect(clientAddress("::ffff:192.0.2.1", null, 0)).toBe("192.0.2.1");
    expect(clientAddress(socket, "::ffff:203.0.113.50", 1)).toBe("203.0.113.50");
  });
});

describe("TRUST_PROXY", () => {
  it("is a number of hops; true means 1 (its old meaning), false and 0 mean none", () => {
    const hops = (value?: string) => loadConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxyHops;
    expect(hops()).toBe(0);
    expect(hops("true")).toBe(1);
    expect(hops("yes")).toBe(1);
    expect(hops("1")).toBe(1);
    expect(hops("2")).toBe(2);
    expect(hops("false")).toBe(0);
    expect(hops("0")).toBe(0);
    expect(() => loadConfig({ TRUST_PROXY: "maybe" })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: "-1" })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: "11" })).toThrow(/TRUST_PROXY/);
  });
});
