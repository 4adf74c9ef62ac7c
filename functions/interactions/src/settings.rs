//! Start-up settings, read once through the one environment reader ([`Env`]).
//!
//! Anything wrong here is a start-up error ([`SettingError`]) that names the variable and says what is
//! expected: a function that cannot verify signatures must not start answering requests.

use std::time::Duration;

use ed25519_dalek::{PUBLIC_KEY_LENGTH, VerifyingKey};
use engagement_startup::{Env, SettingError};

/// Environment variable holding the application's hex "Public Key" from the Discord developer portal.
pub const PUBLIC_KEY_VAR: &str = "DISCORD_PUBLIC_KEY";
/// Environment variable overriding the replay window, in seconds, either side of now.
pub const MAX_AGE_VAR: &str = "SIGNATURE_MAX_AGE_SECONDS";
/// Environment variable overriding the largest accepted request body, in bytes.
pub const MAX_BODY_VAR: &str = "MAX_BODY_BYTES";

/// Default replay window: a signed request is accepted for 5 minutes either side of its timestamp.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Largest replay window accepted from the environment (one day).
pub const MAX_MAX_AGE_SECONDS: u64 = 86_400;
/// Default body limit. Interaction payloads are a few KiB; 64 KiB leaves room for large resolved data.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest body limit accepted from the environment (Lambda's own request limit is 6 MB).
pub const MAX_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// How long a command handler may take before the user gets a "try again" reply instead.
///
/// Discord invalidates the interaction if the first response takes longer than 3 seconds.
pub const DEFAULT_COMMAND_DEADLINE: Duration = Duration::from_millis(2_500);

const PUBLIC_KEY_EXPECTED: &str = "set it to the application's Public Key from the Discord developer portal \
                                   (General Information), 64 hex characters";
const MAX_AGE_EXPECTED: &str = "a whole number of seconds from 1 to 86400 (default 300)";
const MAX_BODY_EXPECTED: &str = "a whole number of bytes from 1024 to 6291456 (default 65536)";

/// Everything the endpoint needs to know, read once at start-up.
#[derive(Debug, Clone)]
pub struct EndpointSettings {
    /// The application's Ed25519 public key; requests must be signed with its private half.
    pub public_key: VerifyingKey,
    /// How far a request's `X-Signature-Timestamp` may be from now, either way.
    pub max_signature_age: Duration,
    /// Bodies larger than this are refused with 413 before any cryptography runs.
    pub max_body_bytes: usize,
    /// How long a command handler may run before the user is told to try again.
    pub command_deadline: Duration,
}

impl EndpointSettings {
    /// Settings with the given key and every other setting at its default.
    #[must_use]
    pub fn new(public_key: VerifyingKey) -> Self {
        Self {
            public_key,
            max_signature_age: DEFAULT_MAX_AGE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            command_deadline: DEFAULT_COMMAND_DEADLINE,
        }
    }

    /// Reads `DISCORD_PUBLIC_KEY` (required), `SIGNATURE_MAX_AGE_SECONDS` and `MAX_BODY_BYTES`.
    ///
    /// # Errors
    /// A [`SettingError`] naming the variable when the public key is missing or malformed, or an
    /// optional setting is out of range.
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        let key = env.optional(PUBLIC_KEY_VAR).unwrap_or_default();
        let mut settings = Self::new(parse_public_key(&key)?);
        if let Some(seconds) =
            env.number_in(MAX_AGE_VAR, 1, MAX_MAX_AGE_SECONDS, MAX_AGE_EXPECTED)?
        {
            settings.max_signature_age = Duration::from_secs(seconds);
        }
        let max = u64::try_from(MAX_MAX_BODY_BYTES).unwrap_or(u64::MAX);
        if let Some(bytes) = env.number_in(MAX_BODY_VAR, 1024, max, MAX_BODY_EXPECTED)? {
            settings.max_body_bytes = usize::try_from(bytes).unwrap_or(MAX_MAX_BODY_BYTES);
        }
        Ok(settings)
    }
}

/// Environment variable naming the followup function that deferred commands are handed to.
pub const FOLLOWUP_FUNCTION_VAR: &str = "FOLLOWUP_FUNCTION_NAME";
/// The followup function's name when [`FOLLOWUP_FUNCTION_VAR`] is not set: its binary's name, which is
/// what `cargo lambda watch` serves it as.
pub const DEFAULT_FOLLOWUP_FUNCTION: &str = "followup";

/// What the slash commands need besides the endpoint: where the counters are, the default time zone, and
/// where deferred work goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSettings {
    /// The DynamoDB table.
    pub table_name: String,
    /// Time zone of guilds that never set one.
    pub default_time_zone: engagement_domain::GuildTimeZone,
    /// The followup Lambda function (name or ARN).
    pub followup_function: String,
}

impl CommandSettings {
    /// Reads `TABLE_NAME` (required), `DEFAULT_TIME_ZONE` and `FOLLOWUP_FUNCTION_NAME` (optional).
    ///
    /// # Errors
    /// A [`SettingError`] naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        Ok(Self {
            table_name: env.table_name()?,
            default_time_zone: env.default_time_zone()?,
            followup_function: env
                .optional(FOLLOWUP_FUNCTION_VAR)
                .unwrap_or_else(|| DEFAULT_FOLLOWUP_FUNCTION.to_owned()),
        })
    }
}

/// Parses a hex Ed25519 public key, rejecting anything `verify_strict` would never accept a signature for.
///
/// # Errors
/// [`SettingError`] for an empty, wrongly sized, non-hex or weak (small-order) key.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, SettingError> {
    if hex_key.is_empty() {
        return Err(SettingError::Missing { name: PUBLIC_KEY_VAR, expected: PUBLIC_KEY_EXPECTED });
    }
    let invalid = |problem: String| SettingError::Invalid {
        name: PUBLIC_KEY_VAR,
        problem,
        expected: PUBLIC_KEY_EXPECTED,
    };
    if hex_key.len() != PUBLIC_KEY_LENGTH * 2 {
        return Err(invalid(format!("{} characters", hex_key.len())));
    }
    let mut bytes = [0_u8; PUBLIC_KEY_LENGTH];
    hex::decode_to_slice(hex_key, &mut bytes).map_err(|_| invalid("not hexadecimal".to_owned()))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| invalid("not a valid Ed25519 point".to_owned()))?;
    if key.is_weak() {
        return Err(invalid("a weak (small-order) Ed25519 key".to_owned()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {

    use ed25519_dalek::SigningKey;

    use engagement_startup::env::{
        DEFAULT_TIME_ZONE as DEFAULT_TIME_ZONE_VAR, TABLE_NAME as TABLE_NAME_VAR,
    };

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    fn key_hex() -> String {
        hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes())
    }

    #[test]
    fn defaults_apply_when_only_the_key_is_set() -> Result<(), SettingError> {
        let config = EndpointSettings::from_env(&lookup(&[(PUBLIC_KEY_VAR, &key_hex())]))?;
        assert_eq!(config.max_signature_age, Duration::from_secs(300));
        assert_eq!(config.max_body_bytes, 65_536);
        assert_eq!(hex::encode(config.public_key.to_bytes()), key_hex());
        Ok(())
    }

    #[test]
    fn surrounding_whitespace_in_the_key_is_ignored() -> Result<(), SettingError> {
        let padded = format!("  {}\n", key_hex().to_uppercase());
        let config = EndpointSettings::from_env(&lookup(&[(PUBLIC_KEY_VAR, &padded)]))?;
        assert_eq!(hex::encode(config.public_key.to_bytes()), key_hex());
        Ok(())
    }

    #[test]
    fn overrides_are_read() -> Result<(), SettingError> {
        let config = EndpointSettings::from_env(&lookup(&[
            (PUBLIC_KEY_VAR, &key_hex()),
            (MAX_AGE_VAR, "60"),
            (MAX_BODY_VAR, "2048"),
        ]))?;
        assert_eq!(config.max_signature_age, Duration::from_secs(60));
        assert_eq!(config.max_body_bytes, 2048);
        Ok(())
    }

    #[test]
    fn a_missing_key_is_a_start_up_error_naming_the_variable() {
        let err = EndpointSettings::from_env(&lookup(&[])).err();
        assert!(matches!(err, Some(SettingError::Missing { name: PUBLIC_KEY_VAR, .. })));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("DISCORD_PUBLIC_KEY is not set"), "{message}");
    }

    #[test]
    fn malformed_keys_are_start_up_errors() {
        let short = &key_hex()[..62];
        let not_hex = "zz".repeat(32);
        let small_order = hex::encode([0_u8; 32]); // the identity point: weak
        for bad in [short, not_hex.as_str(), small_order.as_str()] {
            let err = EndpointSettings::from_env(&lookup(&[(PUBLIC_KEY_VAR, bad)])).err();
            assert!(
                matches!(err, Some(SettingError::Invalid { name: PUBLIC_KEY_VAR, .. })),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn error_messages_do_not_echo_the_value() {
        let secret_looking = "s3cr3t-bot-token-pasted-into-the-wrong-variable";
        let message = EndpointSettings::from_env(&lookup(&[(PUBLIC_KEY_VAR, secret_looking)]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!message.contains(secret_looking), "{message}");
        assert!(message.contains("64 hex characters"), "{message}");
    }

    #[test]
    fn command_settings_need_the_table_and_default_the_rest() -> Result<(), SettingError> {
        let settings = CommandSettings::from_env(&lookup(&[(TABLE_NAME_VAR, "counters")]))?;
        assert_eq!(settings.table_name, "counters");
        assert_eq!(settings.default_time_zone, engagement_domain::GuildTimeZone::UTC);
        assert_eq!(settings.followup_function, "followup");
        let settings = CommandSettings::from_env(&lookup(&[
            (TABLE_NAME_VAR, "counters"),
            (DEFAULT_TIME_ZONE_VAR, "Europe/Berlin"),
            (FOLLOWUP_FUNCTION_VAR, "stack-followup"),
        ]))?;
        assert_eq!(settings.default_time_zone.name(), "Europe/Berlin");
        assert_eq!(settings.followup_function, "stack-followup");
        assert!(matches!(
            CommandSettings::from_env(&lookup(&[])),
            Err(SettingError::Missing { name: TABLE_NAME_VAR, .. })
        ));
        assert!(matches!(
            CommandSettings::from_env(&lookup(&[
                (TABLE_NAME_VAR, "t"),
                (DEFAULT_TIME_ZONE_VAR, "Nowhere")
            ])),
            Err(SettingError::Invalid { name: DEFAULT_TIME_ZONE_VAR, .. })
        ));
        Ok(())
    }

    #[test]
    fn out_of_range_or_non_numeric_settings_are_rejected() {
        for (name, value) in
            [(MAX_AGE_VAR, "0"), (MAX_AGE_VAR, "-5"), (MAX_AGE_VAR, "5m"), (MAX_BODY_VAR, "10")]
        {
            let err =
                EndpointSettings::from_env(&lookup(&[(PUBLIC_KEY_VAR, &key_hex()), (name, value)]))
                    .err();
            assert!(
                matches!(err, Some(SettingError::Invalid { name: n, .. }) if n == name),
                "{name}={value}: {err:?}"
            );
        }
    }
}
