/**
 * Mixed-script usernames (Unicode UTS #39 §5.2, "highly restrictive"): a name may use one script,
 * or one of the combinations the profile allows for East Asian writing: Latin + Han + Hiragana +
 * Katakana, Latin + Han + Bopomofo, Latin + Han + Hangul. Characters whose script is Common or
 * Inherited (digits, `.` `_` `-` `@`, combining marks) belong to every script and do not count.
 * So "pаypal" with a Cyrillic "а" is refused, while "山田たろう" and "δοκιμή" are fine.
 *
 * Scripts are told by the regular-expression property \p{Script=…} (the engine's own Unicode data,
 * no table of ours to go stale). Pure code: the web app bundles this very module
 * (web/src/client/username.ts), so the browser refuses the same names as the server.
 */

/** ISO 15924 codes of every script in Unicode 15.1 except Zyyy (Common) and Zinh (Inherited). */
const SCRIPT_CODES =
  "Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Bhks Bopo Brah Brai Bugi Buhd Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Geor Glag Gong Gonm Goth Gran Grek Gujr Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Kthi Lana Laoo Latn Lepc Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Orkh Orya Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb Saur Sgnw Shaw Shrd Sidd Sind Sinh Sogd Sogo Sora Soyo Sund Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Telu Tfng Tglg Thaa Thai Tibt Tirh Tnsa Toto Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb".split(" ");

/** The codes this engine knows (an older engine may lack the newest scripts). */
const SCRIPTS: { code: string; pattern: RegExp }[] = SCRIPT_CODES.flatMap((code) => {
  try {
    return [{ code, pattern: new RegExp(`^\\p{Script=${code}}$`, "u") }];
  } catch {
    return [];
  }
});

const COMMON_OR_INHERITED = /^[\p{Script=Zyyy}\p{Script=Zinh}]$/u;
const ALL_LATIN = /^[\p{Script=Latn}\p{Script=Zyyy}\p{Script=Zinh}]*$/u;

/** The combinations "highly restrictive" allows beyond a single script. */
const ALLOWED_COMBINATIONS = [
  new Set(["Latn", "Hani", "Hira", "Kana"]),
  new Set(["Latn", "Hani", "Bopo"]),
  new Set(["Latn", "Hani", "Hang"]),
];

/** The scripts a name uses (Common and Inherited left out; "Zzzz" for a character of no known script). */
export function scriptsOf(name: string): Set<string> {
  const found = new Set<string>();
  if (ALL_LATIN.test(name)) {
    if (/\p{Script=Latn}/u.test(name)) found.add("Latn");
    return found;
  }
  for (const ch of name) {
    if (COMMON_OR_INHERITED.test(ch)) continue;
    found.add(SCRIPTS.find((s) => s.pattern.test(ch))?.code ?? "Zzzz");
  }
  return found;
}

/** Whether the name mixes scripts in a way UTS #39's highly restrictive profile does not allow. */
export function isMixedScript(name: string): boolean {
  const scripts = scriptsOf(name);
  if (scripts.size <= 1) return false;
  return !ALLOWED_COMBINATIONS.some((allowed) => [...scripts].every((s) => allowed.has(s)));
}
