//! What is counted: messages, reactions given and reactions received.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The three counters kept for every (day, channel, member).
///
/// Signed: a reaction correction can be negative (a reaction was removed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    /// Messages the member sent.
    pub messages: i64,
    /// Reactions the member added to messages (one per message, emoji and member).
    pub reactions_given: i64,
    /// Reactions on the member's messages.
    pub reactions_received: i64,
}

impl Counts {
    /// All three counters zero.
    pub const ZERO: Self = Self { messages: 0, reactions_given: 0, reactions_received: 0 };

    /// Counts for `n` messages.
    #[must_use]
    pub const fn messages(n: i64) -> Self {
        Self { messages: n, reactions_given: 0, reactions_received: 0 }
    }

    /// Whether every counter is zero.
    #[must_use]
    pub const fn is_zero(&self) -> bool {
        self.messages == 0 && self.reactions_given == 0 && self.reactions_received == 0
    }

    /// The value of one metric.
    #[must_use]
    pub const fn get(&self, metric: Metric) -> i64 {
        match metric {
            Metric::Messages => self.messages,
            Metric::ReactionsGiven => self.reactions_given,
            Metric::ReactionsReceived => self.reactions_received,
        }
    }
}

impl Add for Counts {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            messages: self.messages + rhs.messages,
            reactions_given: self.reactions_given + rhs.reactions_given,
            reactions_received: self.reactions_received + rhs.reactions_received,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl Sub for Counts {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        self + (-rhs)
    }
}

impl Neg for Counts {
    type Output = Self;
    fn neg(self) -> Self {
        Self {
            messages: -self.messages,
            reactions_given: -self.reactions_given,
            reactions_received: -self.reactions_received,
        }
    }
}

impl std::iter::Sum for Counts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

/// One of the counters, for leaderboards and charts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Messages sent.
    #[default]
    Messages,
    /// Reactions added to messages.
    ReactionsGiven,
    /// Reactions received on one's messages.
    ReactionsReceived,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Self; 3] = [Self::Messages, Self::ReactionsGiven, Self::ReactionsReceived];

    /// The name used in commands, exports and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::ReactionsGiven => "reactions_given",
            Self::ReactionsReceived => "reactions_received",
        }
    }

    /// A label for people.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Messages => "Messages",
            Self::ReactionsGiven => "Reactions given",
            Self::ReactionsReceived => "Reactions received",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown metric name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric `{0}`: use messages, reactions_given or reactions_received")]
pub struct UnknownMetric(pub String);

impl FromStr for Metric {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "messages" | "message" => Ok(Self::Messages),
            "reactions_given" | "given" => Ok(Self::ReactionsGiven),
            "reactions_received" | "received" => Ok(Self::ReactionsReceived),
            _ => Err(UnknownMetric(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_and_subtract_per_counter() {
        let a = Counts { messages: 3, reactions_given: 1, reactions_received: 7 };
        let b = Counts { messages: 1, reactions_given: 2, reactions_received: -1 };
        assert_eq!(a + b, Counts { messages: 4, reactions_given: 3, reactions_received: 6 });
        assert_eq!((a + b) - b, a);
        assert!((a - a).is_zero());
        assert_eq!([a, b].into_iter().sum::<Counts>(), a + b);
    }

    #[test]
    fn metrics_parse_their_names() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>(), Ok(m));
        }
        assert!("likes".parse::<Metric>().is_err());
    }
}
