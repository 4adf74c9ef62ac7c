//! Signing interaction requests the way Discord does: Ed25519 over `timestamp || body`, hex-encoded.
//!
//! # The development key
//!
//! [`DEV_SEED`] is a fixed, public, DEVELOPMENT-ONLY private key. The files in `events/` are signed with
//! it, `scripts/demo` runs the function with its public key ([`DEV_PUBLIC_KEY_HEX`]), and `engagement
//! sign-event` uses it by default. Anyone can sign requests with it: never configure [`DEV_PUBLIC_KEY_HEX`]
//! as the `DISCORD_PUBLIC_KEY` of a deployed function.

use ed25519_dalek::{Signer as _, SigningKey};

/// DEVELOPMENT ONLY: the 32-byte seed of the key that signs `events/`. It is public; never deploy it.
pub const DEV_SEED: [u8; 32] = *b"discord-engagement DEV ONLY key!";

/// DEVELOPMENT ONLY: the public half of [`DEV_SEED`], hex-encoded, for `DISCORD_PUBLIC_KEY` in local runs.
pub const DEV_PUBLIC_KEY_HEX: &str =
    "45e30d482cec739edb71f029e2b235fe11f5e98d6241e5b87c7ffd8b72a68c6e";

/// DEVELOPMENT ONLY: a second fixed seed, for requests that must fail verification with a well-formed
/// signature (`events/interactions-bad-signature.json`).
pub const WRONG_SEED: [u8; 32] = *b"NOT the discord-engagement key!!";

/// The DEVELOPMENT-ONLY signing key (see the module docs).
#[must_use]
pub fn dev_signing_key() -> SigningKey {
    SigningKey::from_bytes(&DEV_SEED)
}

/// A signing key that is not the development key: its signatures never verify against it.
#[must_use]
pub fn wrong_signing_key() -> SigningKey {
    SigningKey::from_bytes(&WRONG_SEED)
}

/// 32 random bytes, for a fresh key per test.
#[must_use]
pub fn random_seed() -> [u8; 32] {
    rand::random()
}

/// A fresh random signing key.
#[must_use]
pub fn generate_signing_key() -> SigningKey {
    SigningKey::from_bytes(&random_seed())
}

/// The hex public key of `key`, as Discord shows it in the developer portal.
#[must_use]
pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// The hex signature Discord would send in `X-Signature-Ed25519` for `timestamp` and `body`.
#[must_use]
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    hex::encode(key.sign(&message).to_bytes())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier as _};

    use super::*;

    #[test]
    fn the_published_dev_public_key_matches_the_seed() {
        assert_eq!(public_key_hex(&dev_signing_key()), DEV_PUBLIC_KEY_HEX);
    }

    #[test]
    fn signatures_cover_timestamp_then_body() -> Result<(), Box<dyn std::error::Error>> {
        let key = generate_signing_key();
        let mut bytes = [0_u8; 64];
        hex::decode_to_slice(sign(&key, "123", b"{}"), &mut bytes)?;
        let signature = Signature::from_bytes(&bytes);
        key.verifying_key().verify(b"123{}", &signature)?;
        assert!(key.verifying_key().verify(b"{}123", &signature).is_err());
        Ok(())
    }

    #[test]
    fn the_wrong_key_is_not_the_dev_key() {
        assert_ne!(public_key_hex(&wrong_signing_key()), DEV_PUBLIC_KEY_HEX);
    }
}
