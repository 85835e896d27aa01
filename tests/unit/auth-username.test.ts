import { describe, expect, it } from "vitest";
import { CypherError } from "../../server/errors.js";
import { normalizeNewUsername, normalizeUsername, tryNormalizeUsername, tryNormalizeUsernamePrefix } from "../../server/auth/username.js";

describe("username normalization", () => {
  it("folds compatibility forms and case, so one person cannot be two accounts", () => {
    expect(tryNormalizeUsername("Alice")).toBe("alice");
    expect(tryNormalizeUsername("ＡＬＩＣＥ")).toBe("alice"); // full-width
    expect(tryNormalizeUsername("ﬁnn")).toBe("finn"); // ligature
    expect(tryNormalizeUsername("user①")).toBe("user1"); // circled digit
    expect(tryNormalizeUsername("Cafe\u0301")).toBe("café"); // decomposed accent
    expect(tryNormalizeUsername("café")).toBe(tryNormalizeUsername("Cafe\u0301"));
    expect(tryNormalizeUsername("ΣΊΣΥΦΟΣ")).toBe("σίσυφος"); // final sigma by context, as toLowerCase does
    expect(tryNormalizeUsername("İstanbul")).toBe("i̇stanbul"); // NFKC again after lower-casing
  });

  it("accepts 3 to 64 letters (any script, with their marks), digits, '.', '_', '-', '@'", () => {
    for (const ok of ["abc", "a.b", "a_b-c@d.e", "владимир", "ज्योति", "名前です", "user٣", "x".repeat(64), "...", "@@@"]) {
      expect(tryNormalizeUsername(ok), ok).not.toBeNull();
    }
  });

  it("refuses everything else rather than dropping it", () => {
    for (const bad of ["", "ab", "x".repeat(65), "a b", "a\tb", "a\u200bb", "a\u00adb", "a+b", "a/b", "a:b", "😀😀😀", "\u0301ab", "a".repeat(2000)]) {
      expect(tryNormalizeUsername(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it("counts characters, not UTF-16 code units", () => {
    expect(tryNormalizeUsername("𝐚".repeat(64))).toBe("a".repeat(64)); // math bold folds to ASCII
    expect(tryNormalizeUsername("𠀀".repeat(64))).toBe("𠀀".repeat(64)); // astral CJK letter, 128 code units
    expect(tryNormalizeUsername("𠀀".repeat(65))).toBeNull();
  });

  it("throws InvalidArgument with a field violation", () => {
    try {
      normalizeUsername("no", "username");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CypherError);
      expect((error as CypherError).details.violations).toEqual([{ field: "username", description: expect.stringContaining("3-64") }]);
    }
  });
});

describe("username prefixes (an operator's listing)", () => {
  it("fold as usernames do, may be shorter than a username, and refuse what no username could start with", () => {
    expect(tryNormalizeUsernamePrefix("")).toBe("");
    expect(tryNormalizeUsernamePrefix("Al")).toBe("al");
    expect(tryNormalizeUsernamePrefix("ＡＬＩ")).toBe("ali");
    expect(tryNormalizeUsernamePrefix("a".repeat(64))).toBe("a".repeat(64));
    expect(tryNormalizeUsernamePrefix("a".repeat(65))).toBeNull();
    expect(tryNormalizeUsernamePrefix("bad prefix!")).toBeNull();
    expect(tryNormalizeUsernamePrefix("x".repeat(2000))).toBeNull();
  });
});

describe("look-alike rules (UTS #39)", () => {
  it("computes the confusable skeleton: look-alikes share it, different names do not", async () => {
    const { usernameSkeleton } = await import("../../server/auth/username-skeleton.js");
    expect(usernameSkeleton("paypal")).toBe(usernameSkeleton("раураl")); // Cyrillic р, а, у
    expect(usernameSkeleton("mike")).toBe(usernameSkeleton("rnike"));
    expect(usernameSkeleton("alice")).not.toBe(usernameSkeleton("alicia"));
  });

  it("refuses mixed scripts except the highly restrictive profile's East Asian combinations, in the server and the web client alike", async () => {
    const { isMixedScript } = await import("../../server/auth/username-scripts.js");
    const { newUsernameProblem } = await import("../../web/src/client/username.js");
    const cases: [string, boolean][] = [
      ["alice", false], ["user_12.x@y", false], ["дмитрий", false], ["δοκιμή", false], ["ज्योति", false],
      ["山田たろう", false], ["tanaka田中カナ", false], ["kim김철수", false], ["ㄅㄆ中文abc", false],
      ["pаypal", true], ["ivan.иван", true], ["αlpha", true], ["かな김", true], ["abcไทย", true],
    ];
    for (const [name, mixed] of cases) {
      expect(isMixedScript(name), name).toBe(mixed);
      expect(newUsernameProblem(name) !== null, `web: ${name}`).toBe(mixed);
    }
    expect(() => normalizeNewUsername("pаypal")).toThrow(CypherError);
    expect(normalizeUsername("pаypal")).toBe("pаypal"); // login still takes it
  });
});
