import { describe, expect, it } from "vitest";
import { CypherError } from "../../server/errors.js";
import { normalizeUsername, tryNormalizeUsername } from "../../server/auth/username.js";

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
