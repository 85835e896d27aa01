/**
 * Device names are shown back to the user in ListSessions (and to whoever reads the audit log), so
 * they are bounded and free of characters that could hide or disguise text.
 */
import { hasUnsafeCharacters } from "../display-text.js";
import { invalidArgument } from "../errors.js";

export const DEVICE_NAME_MAX_CHARS = 100;
export const DEFAULT_DEVICE_NAME = "Unknown device";

/** The name to store: trimmed, NFC, DEFAULT_DEVICE_NAME when empty; InvalidArgument when unfit. */
export function normalizeDeviceName(raw: string): string {
  if (raw.length > DEVICE_NAME_MAX_CHARS * 4) throw invalidArgument({ field: "device_name", description: `must be at most ${DEVICE_NAME_MAX_CHARS} characters` });
  const name = raw.normalize("NFC").trim();
  if (name === "") return DEFAULT_DEVICE_NAME;
  if ([...name].length > DEVICE_NAME_MAX_CHARS) {
    throw invalidArgument({ field: "device_name", description: `must be at most ${DEVICE_NAME_MAX_CHARS} characters` });
  }
  if (hasUnsafeCharacters(name)) {
    throw invalidArgument({ field: "device_name", description: "must not contain control or bidirectional-override characters" });
  }
  return name;
}
