/**
 * opaque-ts speaks `number[]`; protobuf speaks `Uint8Array`. These two functions are the only place
 * the two meet.
 */

export function toBytes(serialized: number[]): Uint8Array {
  return Uint8Array.from(serialized);
}

export function fromBytes(bytes: Uint8Array): number[] {
  return Array.from(bytes);
}
