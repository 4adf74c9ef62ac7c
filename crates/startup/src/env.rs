//! The one environment reader: every setting of every binary is read through an [`Env`] (the logging
//! set-up alone reads `RUST_LOG` and `AWS_LAMBDA_FUNCTION_NAME` itself, before anything can be logged),
//! and every problem is a [`SettingError`] that names the variable and says what it should hold. No
//! message repeats a value: a secret pasted into the wrong variable must not end up in a log.

use std::str::FromStr;

use engagement_domain::GuildTimeZone;

/// The DynamoDB table of the counters.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// Time zone of guilds that never set one.
pub const DEFAULT_TIME_ZONE: &str = "DEFAULT_TIME_ZONE";

/// A setting that cannot be used. The messages name the variable and never repeat its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
    /// A required variable is not set (or is blank).
    #[error("{name} is not set: {expected}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A variable is set to something that cannot be used.
    #[error("{name} is invalid ({problem}): {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with the value, without the value.
        problem: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// What a variable points to (a secret, a parameter) could not be read.
    #[error("what {name} names could not be read: {problem}")]
    Unreadable {
        /// The variable.
        name: &'static str,
        /// Why (the service's error code or the connection problem; never the value).
        problem: String,
    },
}

impl SettingError {
    /// The variable the problem is about.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Missing { name, .. }
            | Self::Invalid { name, .. }
            | Self::Unreadable { name, .. } => name,
        }
    }
}

/// Reads one variable.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where settings come from: the process environment, or a map in tests.
pub struct Env {
    lookup: Lookup,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    /// The process environment.
    #[must_use]
    pub fn process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Variables from `lookup` (tests pass a map).
    #[must_use]
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self { lookup: Box::new(lookup) }
    }

    /// Exactly these variables, nothing else.
    #[must_use]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }

    /// The variable's value, trimmed; `None` when it is not set or blank.
    #[must_use]
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The variable's value, trimmed.
    ///
    /// # Errors
    /// [`SettingError::Missing`] when it is not set or blank.
    pub fn required(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<String, SettingError> {
        self.optional(name).ok_or(SettingError::Missing { name, expected })
    }

    /// The variable parsed as `T`, if set.
    ///
    /// # Errors
    /// [`SettingError::Invalid`] when it is set and does not parse.
    pub fn parsed<T: FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, SettingError> {
        self.optional(name)
            .map(|v| {
                v.parse().map_err(|_| SettingError::Invalid {
                    name,
                    problem: "it does not parse".to_owned(),
                    expected,
                })
            })
            .transpose()
    }

    /// The variable as a whole number in `min..=max`, if set.
    ///
    /// # Errors
    /// [`SettingError::Invalid`] when it is set and is not a whole number in range.
    pub fn number_in(
        &self,
        name: &'static str,
        min: u64,
        max: u64,
        expected: &'static str,
    ) -> Result<Option<u64>, SettingError> {
        let Some(value) = self.optional(name) else { return Ok(None) };
        let invalid = |problem: String| SettingError::Invalid { name, problem, expected };
        let number = value.parse::<u64>().map_err(|_| invalid("not a whole number".to_owned()))?;
        if number < min {
            Err(invalid("below the minimum".to_owned()))
        } else if number > max {
            Err(invalid("above the maximum".to_owned()))
        } else {
            Ok(Some(number))
        }
    }

    /// `TABLE_NAME`: the DynamoDB table of the counters (required).
    ///
    /// # Errors
    /// [`SettingError::Missing`].
    pub fn table_name(&self) -> Result<String, SettingError> {
        self.required(TABLE_NAME, "the DynamoDB table of the counters (the stack sets it)")
    }

    /// `DEFAULT_TIME_ZONE`: the time zone of guilds that never set one (UTC when not set).
    ///
    /// # Errors
    /// [`SettingError::Invalid`] for a name that is not an IANA time zone.
    pub fn default_time_zone(&self) -> Result<GuildTimeZone, SettingError> {
        let zone = self.parsed(
            DEFAULT_TIME_ZONE,
            "an IANA time zone such as Europe/Paris or UTC (default UTC)",
        )?;
        Ok(zone.unwrap_or(GuildTimeZone::UTC))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        let env = Env::from_pairs(&[("A", "  x \n"), ("B", "   ")]);
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("B"), None);
        assert_eq!(
            env.required("B", "something"),
            Err(SettingError::Missing { name: "B", expected: "something" })
        );
    }

    #[test]
    fn shared_settings_have_their_defaults_and_name_the_variable() {
        let env = Env::from_pairs(&[]);
        assert_eq!(env.default_time_zone(), Ok(GuildTimeZone::UTC));
        let missing = env.table_name().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.starts_with("TABLE_NAME is not set"), "{missing}");
        let env = Env::from_pairs(&[(TABLE_NAME, "t"), (DEFAULT_TIME_ZONE, "Europe/Paris")]);
        assert_eq!(env.table_name().as_deref(), Ok("t"));
        assert_eq!(
            env.default_time_zone().map(|z| z.name().to_owned()).as_deref(),
            Ok("Europe/Paris")
        );
    }

    #[test]
    fn no_message_repeats_the_value() {
        let secret = "s3cr3t-token-pasted-into-the-wrong-variable";
        let env = Env::from_pairs(&[(DEFAULT_TIME_ZONE, secret), ("N", secret)]);
        let errors = [
            env.default_time_zone().err(),
            env.number_in("N", 1, 10, "a number from 1 to 10").err(),
            env.parsed::<u32>("N", "a number").err(),
        ];
        for error in errors {
            let shown = error.map(|e| format!("{e} {e:?}")).unwrap_or_default();
            assert!(!shown.is_empty() && !shown.contains(secret), "{shown}");
        }
        let range = Env::from_pairs(&[("N", "987654321")]).number_in("N", 1, 10, "1 to 10").err();
        assert_eq!(
            range.map(|e| e.to_string()).as_deref(),
            Some("N is invalid (above the maximum): 1 to 10")
        );
    }
}
