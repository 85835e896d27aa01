/**
 * The server's secrets, loaded once at start-up (see `load-key-material.ts`).
 * None of these values is ever logged.
 */

/** What a token is for; each purpose has its own Ed25519 key so one can never pass for another. */
export type TokenPurpose = "login" | "access" | "refresh";
export const TOKEN_PURPOSES: readonly TokenPurpose[] = ["login", "access", "refresh"];

export interface TokenKeySet {
  /** PASERK `k4.secret.` of the key that signs new tokens. */
  signingKey: string;
  /** PASERK `k4.public.` of older keys that still verify live tokens (rotation). */
  previousPublicKeys: string[];
}

export interface KeyMaterial {
  opaque: {
    /** 32 bytes. Losing or changing it breaks every existing login: never regenerated over users. */
    oprfSeed: Uint8Array;
    /** P-256 AKE key pair, as opaque-ts serializes it. */
    akePrivateKey: Uint8Array;
    akePublicKey: Uint8Array;
  };
  tokens: Record<TokenPurpose, TokenKeySet>;
  /** 32 bytes, AES-256-GCM key for TOTP secrets at rest. */
  totpEncryptionKey: Uint8Array;
}
