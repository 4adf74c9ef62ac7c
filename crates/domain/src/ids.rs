//! Typed Discord ids.
//!
//! Plain `u64` newtypes rather than twilight's `Id<Marker>`: they encode as compact varints in the stored
//! summaries, they can be zero-free or not as the data says, and they convert from twilight ids with
//! `From`. They print and parse as Discord prints them (decimal strings).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $marker:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw snowflake.
            #[must_use]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map(Self)
            }
        }

        impl From<twilight_model::id::Id<$marker>> for $name {
            fn from(id: twilight_model::id::Id<$marker>) -> Self {
                Self(id.get())
            }
        }
    };
}

id_type!(
    /// A Discord server ("guild").
    GuildId,
    twilight_model::id::marker::GuildMarker
);
id_type!(
    /// A channel, a thread, a forum post or a category (Discord gives them all channel ids).
    ChannelId,
    twilight_model::id::marker::ChannelMarker
);
id_type!(
    /// A member or any other user.
    UserId,
    twilight_model::id::marker::UserMarker
);
id_type!(
    /// A message; its id orders messages in time.
    MessageId,
    twilight_model::id::marker::MessageMarker
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_discord_writes_them() {
        let id: ChannelId = " 175928847299117063".parse().unwrap_or(ChannelId(0));
        assert_eq!(id, ChannelId(175_928_847_299_117_063));
        assert_eq!(id.to_string(), "175928847299117063");
        assert!("12x".parse::<UserId>().is_err());
    }
}
