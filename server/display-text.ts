/**
 * Text a person typed that others will read back (device names, an operator's lock reason): free
 * of control characters (NUL among them, which PostgreSQL text and jsonb refuse), of the
 * bidirectional overrides and isolates that make text read as something else ("‮moc.elgoog"), and
 * of unassigned, private-use and lone surrogate code points.
 */
const UNSAFE = /[\p{Cc}\u202A-\u202E\u2066-\u2069\p{Co}\p{Cs}\p{Cn}]/u;

export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE.test(text);
}
