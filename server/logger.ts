/**
 * Structured JSON logs, one object per line on stdout. Callers pass facts, never secrets: no
 * password-equivalent, key, token, TOTP secret, OPAQUE message or recovery code goes in a field.
 */
import { writeSync } from "node:fs";
import type { LogLevel } from "./config.js";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** Whether lines of this level are written: lets a hot path skip building fields nobody reads. */
  enabled(level: LogLevel): boolean;
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = stdoutLines(),
  base: LogFields = {},
): Logger {
  const emit = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[at] < ORDER[level]) return;
    const line = { time: new Date().toISOString(), level: at, msg, ...base, ...fields };
    // A replacer puts JSON.stringify on its slow path; one log line per RPC makes that a measurable
    // share of a hot call, so it is used only when a field holds an Error.
    write(hasErrorField(fields) ? JSON.stringify(line, errorReplacer) : JSON.stringify(line));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
    enabled: (at) => ORDER[at] >= ORDER[level],
  };
}

function hasErrorField(fields: LogFields | undefined): boolean {
  if (!fields) return false;
  for (const key in fields) if (fields[key] instanceof Error) return true;
  return false;
}

/** Errors are logged by name, message and code; stacks only at debug level would still be server-side only. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}

/**
 * Lines to stdout, written once per event-loop turn. One line per RPC at thousands of RPCs a second
 * would otherwise be one write(2) and one stream round per call, a measurable share of a hot
 * VerifySession; batched, a turn's lines cost one. Order is kept, and lines still pending when the
 * process exits are written synchronously then (a SIGKILL loses at most the current turn's).
 * One buffer per process, shared by every logger writing to stdout: two buffers would each flush
 * on their own and could put a later line before an earlier one.
 */
export function stdoutLines(): (line: string) => void {
  return (sharedStdout ??= createStdoutLines());
}

let sharedStdout: ((line: string) => void) | undefined;

function createStdoutLines(): (line: string) => void {
  let pending = "";
  const flush = () => {
    const chunk = pending;
    pending = "";
    if (chunk.length > 0) process.stdout.write(chunk);
  };
  process.once("exit", () => {
    if (pending.length > 0) writeSync(1, pending);
    pending = "";
  });
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending += line + "\n";
  };
}

/** A logger that drops everything; for tests. */
export const silentLogger: Logger = createLogger("error", () => {});
