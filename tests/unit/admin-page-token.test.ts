/** AdminService page tokens (AIP-158): round trip, bound to list and filter, tamper-evident; page sizes. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PageTokens, pageSize, pageTokenKey } from "../../server/admin/page-token.js";
import { CypherError } from "../../server/errors.js";

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof CypherError && error.code === "invalid_argument") return error.details.violations?.[0]?.field;
    throw error;
  }
  return undefined;
};

describe("page tokens", () => {
  const secret = randomBytes(32);
  const tokens = new PageTokens(pageTokenKey(secret));

  it("round-trips a position for the same list and filter, also through another instance with the same key material", () => {
    const token = tokens.encode("users", "ali", "alice");
    expect(tokens.decode(token, "users", "ali")).toBe("alice");
    expect(new PageTokens(pageTokenKey(Uint8Array.from(secret))).decode(token, "users", "ali")).toBe("alice");
    expect(tokens.decode("", "users", "ali")).toBeUndefined();
  });

  it("refuses tokens of another list, another filter, another key, and altered or made-up ones", () => {
    const token = tokens.encode("users", "ali", "alice");
    const [body, mac] = token.split(".") as [string, string];
    const forged = Buffer.from(JSON.stringify({ l: "users", f: "ali", p: "zzz" })).toString("base64url");
    const flipped = `${body.slice(0, -1)}${body.endsWith("A") ? "B" : "A"}.${mac}`;
    for (const bad of [
      () => tokens.decode(token, "audit", "ali"),
      () => tokens.decode(token, "users", "al"),
      () => new PageTokens(pageTokenKey(randomBytes(32))).decode(token, "users", "ali"),
      () => tokens.decode(`${forged}.${mac}`, "users", "ali"),
      () => tokens.decode(flipped, "users", "ali"),
      () => tokens.decode(body, "users", "ali"),
      () => tokens.decode(`${body}.`, "users", "ali"),
      () => tokens.decode("not a token", "users", "ali"),
      () => tokens.decode("x".repeat(5000), "users", "ali"),
    ]) {
      expect(fieldOf(bad)).toBe("page_token");
    }
  });

  it("page sizes: 0 is 50, above 100 is 100, negative is InvalidArgument", () => {
    expect(pageSize(0)).toBe(50);
    expect(pageSize(7)).toBe(7);
    expect(pageSize(100)).toBe(100);
    expect(pageSize(101)).toBe(100);
    expect(pageSize(2 ** 31 - 1)).toBe(100);
    expect(fieldOf(() => pageSize(-1))).toBe("page_size");
  });
});
