//! Compact binary encoding of stored batches and summaries (postcard: varints, no field names).
//!
//! Every encoded value starts with a format version so the layout can evolve.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A stored value that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a valid encoding.
    #[error("stored data is corrupt or of an unknown layout: {0}")]
    Corrupt(#[from] postcard::Error),
    /// The layout version is not one this build reads.
    #[error("stored data has layout version {found}, this build reads version {expected}")]
    Version {
        /// Version found.
        found: u8,
        /// Version expected.
        expected: u8,
    },
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(postcard::to_stdvec(value)?)
}

pub(crate) fn decode_versioned<T: DeserializeOwned>(
    bytes: &[u8],
    expected: u8,
) -> Result<T, CodecError> {
    #[derive(serde::Deserialize)]
    struct Owned<T> {
        _version: u8,
        body: T,
    }
    match bytes.first() {
        Some(&found) if found != expected => Err(CodecError::Version { found, expected }),
        _ => {
            let (value, rest): (Owned<T>, &[u8]) = postcard::take_from_bytes(bytes)?;
            if rest.is_empty() {
                Ok(value.body)
            } else {
                Err(CodecError::Corrupt(postcard::Error::DeserializeUnexpectedEnd))
            }
        }
    }
}
