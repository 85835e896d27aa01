/** Dates and durations the way people read them, in the browser's language. */
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

export function timestampToDate(ts: Timestamp | undefined): Date | undefined {
  return ts ? timestampDate(ts) : undefined;
}

/** "just now", "5 minutes ago", "yesterday", then an absolute date beyond a week. */
export function ago(date: Date, nowMs = Date.now()): string {
  const seconds = Math.round((date.getTime() - nowMs) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), "day");
  return absolute.format(date);
}

export function dateTime(date: Date): string {
  return absolute.format(date);
}

export function timeOfDay(date: Date): string {
  return clock.format(date);
}
