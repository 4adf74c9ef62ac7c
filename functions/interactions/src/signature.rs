//! Ed25519 request signatures as Discord sends them.
//!
//! Discord signs the bytes of the `X-Signature-Timestamp` header followed directly by the raw body bytes, and
//! sends the signature hex-encoded in `X-Signature-Ed25519`. Verification works on those bytes exactly as
//! received: nothing is parsed, trimmed or re-encoded first.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{SIGNATURE_LENGTH, Signature, VerifyingKey};
use lambda_http::http::HeaderMap;

/// Header carrying the hex-encoded Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header carrying the Unix time (seconds) at which the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Longest timestamp accepted: `u64::MAX` has 20 digits.
const MAX_TIMESTAMP_DIGITS: usize = 20;

/// Why a request's signature was not accepted. Every variant is answered with 401; the variant is only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Signature-Ed25519` header.
    #[error("missing X-Signature-Ed25519 header")]
    MissingSignature,
    /// No `X-Signature-Timestamp` header.
    #[error("missing X-Signature-Timestamp header")]
    MissingTimestamp,
    /// A signature header was sent more than once.
    #[error("signature header sent more than once")]
    DuplicateHeader,
    /// The signature is not exactly 128 hexadecimal characters.
    #[error("signature is not 128 hex characters")]
    MalformedSignature,
    /// The timestamp is not a non-negative integer.
    #[error("timestamp is not an integer")]
    MalformedTimestamp,
    /// The timestamp is further from now than the replay window allows.
    #[error("timestamp is {skew_seconds} s from now, outside the replay window")]
    OutsideReplayWindow {
        /// Timestamp minus now, in seconds (negative: in the past).
        skew_seconds: i128,
    },
    /// The signature does not verify over timestamp + body with the configured key.
    #[error("signature does not match")]
    Mismatch,
}

/// Checks request signatures against one application's public key.
#[derive(Debug, Clone)]
pub struct SignatureVerifier {
    key: VerifyingKey,
    max_age: Duration,
}

impl SignatureVerifier {
    /// A verifier for `key` accepting timestamps within `max_age` of now, either way.
    #[must_use]
    pub const fn new(key: VerifyingKey, max_age: Duration) -> Self {
        Self { key, max_age }
    }

    /// Verifies the signature headers of a request against its raw body.
    ///
    /// Cheap checks (presence, shape, replay window) run before the Ed25519 verification.
    ///
    /// # Errors
    /// The first [`SignatureError`] found.
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let signature =
            single_header(headers, SIGNATURE_HEADER).ok_or(SignatureError::MissingSignature)??;
        let timestamp =
            single_header(headers, TIMESTAMP_HEADER).ok_or(SignatureError::MissingTimestamp)??;
        self.verify(signature, timestamp, body, now)
    }

    /// Verifies `signature_hex` over `timestamp` followed by `body`, and that `timestamp` is fresh.
    ///
    /// # Errors
    /// The first [`SignatureError`] found.
    pub fn verify(
        &self,
        signature_hex: &[u8],
        timestamp: &[u8],
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let signature = parse_signature(signature_hex)?;
        let signed_at = parse_timestamp(timestamp)?;
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if signed_at.abs_diff(now_secs) > self.max_age.as_secs() {
            return Err(SignatureError::OutsideReplayWindow {
                skew_seconds: i128::from(signed_at) - i128::from(now_secs),
            });
        }
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp);
        message.extend_from_slice(body);
        self.key.verify_strict(&message, &signature).map_err(|_| SignatureError::Mismatch)
    }
}

/// The one value of header `name`: `None` when absent, an error when repeated.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Option<Result<&'a [u8], SignatureError>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Err(SignatureError::DuplicateHeader));
    }
    Some(Ok(first.as_bytes()))
}

fn parse_signature(hex_signature: &[u8]) -> Result<Signature, SignatureError> {
    if hex_signature.len() != SIGNATURE_LENGTH * 2 {
        return Err(SignatureError::MalformedSignature);
    }
    let mut bytes = [0_u8; SIGNATURE_LENGTH];
    hex::decode_to_slice(hex_signature, &mut bytes)
        .map_err(|_| SignatureError::MalformedSignature)?;
    Ok(Signature::from_bytes(&bytes))
}

/// A timestamp is 1 to 20 ASCII digits: no sign, no spaces, no fraction.
fn parse_timestamp(timestamp: &[u8]) -> Result<u64, SignatureError> {
    if timestamp.is_empty()
        || timestamp.len() > MAX_TIMESTAMP_DIGITS
        || !timestamp.iter().all(u8::is_ascii_digit)
    {
        return Err(SignatureError::MalformedTimestamp);
    }
    timestamp.iter().try_fold(0_u64, |acc, digit| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(digit - b'0')))
            .ok_or(SignatureError::MalformedTimestamp)
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use lambda_http::http::HeaderValue;

    use super::*;

    const NOW: u64 = 1_750_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&rand_seed())
    }

    /// A seed that differs per test run, so no test depends on one fixed key.
    fn rand_seed() -> [u8; 32] {
        engagement_testkit::signing::random_seed()
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        hex::encode(key.sign(&message).to_bytes())
    }

    fn verifier(key: &SigningKey) -> SignatureVerifier {
        SignatureVerifier::new(key.verifying_key(), Duration::from_secs(300))
    }

    fn check(
        key: &SigningKey,
        signature: &str,
        timestamp: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        verifier(key).verify(signature.as_bytes(), timestamp.as_bytes(), body, at(NOW))
    }

    #[test]
    fn a_correct_signature_verifies() {
        let key = key();
        let ts = NOW.to_string();
        assert_eq!(check(&key, &sign(&key, &ts, b"{\"type\":1}"), &ts, b"{\"type\":1}"), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        let key = key();
        let ts = NOW.to_string();
        let signature = sign(&key, &ts, b"{}").to_uppercase();
        assert_eq!(check(&key, &signature, &ts, b"{}"), Ok(()));
    }

    #[test]
    fn a_tampered_body_fails() {
        let key = key();
        let ts = NOW.to_string();
        let signature = sign(&key, &ts, b"{\"type\":1}");
        assert_eq!(check(&key, &signature, &ts, b"{\"type\":2}"), Err(SignatureError::Mismatch));
        assert_eq!(check(&key, &signature, &ts, b"{\"type\":1} "), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_signature_from_another_key_fails() {
        let (ours, theirs) = (key(), key());
        let ts = NOW.to_string();
        assert_eq!(
            check(&ours, &sign(&theirs, &ts, b"{}"), &ts, b"{}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_timestamp_is_part_of_the_signed_message() {
        let key = key();
        let signature = sign(&key, &NOW.to_string(), b"{}");
        let other = (NOW + 1).to_string();
        assert_eq!(check(&key, &signature, &other, b"{}"), Err(SignatureError::Mismatch));
        // Same number, different bytes: still not what was signed.
        let padded = format!("0{NOW}");
        assert_eq!(check(&key, &signature, &padded, b"{}"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_signatures_are_rejected_before_verifying() {
        let key = key();
        let ts = NOW.to_string();
        let good = sign(&key, &ts, b"{}");
        for bad in [
            String::new(),
            good[..126].to_owned(),
            format!("{good}00"),
            format!("{}zz", &good[..126]),
            format!(" {}", &good[..127]),
        ] {
            assert_eq!(
                check(&key, &bad, &ts, b"{}"),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn non_integer_timestamps_are_rejected() {
        let key = key();
        for ts in [
            "",
            "abc",
            "-1",
            "+1750000000",
            "1750000000.5",
            " 1750000000",
            "1e9",
            "123456789012345678901",
        ] {
            let signature = sign(&key, ts, b"{}");
            assert_eq!(
                check(&key, &signature, ts, b"{}"),
                Err(SignatureError::MalformedTimestamp),
                "{ts:?}"
            );
        }
    }

    #[test]
    fn the_replay_window_holds_either_way() {
        let key = key();
        for (offset, accepted) in [
            (0_i64, true),
            (300, true),
            (-300, true),
            (301, false),
            (-301, false),
            (-86_400, false),
        ] {
            let ts = NOW.saturating_add_signed(offset).to_string();
            let result = check(&key, &sign(&key, &ts, b"{}"), &ts, b"{}");
            assert_eq!(result.is_ok(), accepted, "offset {offset}: {result:?}");
            if !accepted {
                assert_eq!(
                    result,
                    Err(SignatureError::OutsideReplayWindow { skew_seconds: i128::from(offset) })
                );
            }
        }
    }

    #[test]
    fn headers_must_be_present_once() {
        let key = key();
        let ts = NOW.to_string();
        let signature = sign(&key, &ts, b"{}");
        let verifier = verifier(&key);
        let mut headers = HeaderMap::new();
        assert_eq!(
            verifier.verify_headers(&headers, b"{}", at(NOW)),
            Err(SignatureError::MissingSignature)
        );
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&signature).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(
            verifier.verify_headers(&headers, b"{}", at(NOW)),
            Err(SignatureError::MissingTimestamp)
        );
        headers.insert(
            TIMESTAMP_HEADER,
            HeaderValue::from_str(&ts).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(verifier.verify_headers(&headers, b"{}", at(NOW)), Ok(()));
        headers.append(TIMESTAMP_HEADER, HeaderValue::from_static("1"));
        assert_eq!(
            verifier.verify_headers(&headers, b"{}", at(NOW)),
            Err(SignatureError::DuplicateHeader)
        );
    }

    #[test]
    fn a_non_canonical_signature_is_rejected_by_verify_strict() {
        // Adding the group order L to S gives a signature that lax verifiers accept for the same message.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let key = key();
        let ts = NOW.to_string();
        let mut message = ts.as_bytes().to_vec();
        message.extend_from_slice(b"{}");
        let mut bytes = key.sign(&message).to_bytes();
        let mut carry = 0_u16;
        for (s, l) in bytes[32..].iter_mut().zip(L) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(check(&key, &hex::encode(bytes), &ts, b"{}"), Err(SignatureError::Mismatch));
    }
}
