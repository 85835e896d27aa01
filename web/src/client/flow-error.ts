/**
 * Failures the browser detects itself, before or instead of a server answer. Server failures stay
 * ConnectErrors; `describeError` turns either kind into a sentence for people.
 */

export type FlowErrorKind =
  /** OPAQUE could not open the envelope (wrong password) or the server refused the proof. */
  | "wrong-credentials"
  /** The username breaks the rules; the message says which. */
  | "invalid-username"
  /** The password is too short or too long; the message says which. */
  | "invalid-password"
  /** A code field holds something that cannot be a code. */
  | "invalid-code"
  /** The server answered with bytes the OPAQUE library could not use. */
  | "protocol";

export class FlowError extends Error {
  override readonly name = "FlowError";
  constructor(
    readonly kind: FlowErrorKind,
    message: string,
  ) {
    super(message);
  }
}
