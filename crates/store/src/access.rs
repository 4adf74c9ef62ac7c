//! The guild's channel permissions as the sync last listed them: which reply may show which channel.

use std::collections::HashMap;

use engagement_domain::GuildId;
use engagement_domain::visibility::GuildAccess;

use crate::items::{self, Item, PK, SK, b, guild_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

const ACCESS_SK: &str = "ACCESS";

impl CounterStore {
    /// The guild's channel permissions (roles and overwrites) as the sync last listed them, if it has.
    ///
    /// # Errors
    /// DynamoDB errors; a snapshot that does not decode.
    pub async fn guild_access(&self, guild: GuildId) -> Result<Option<GuildAccess>, StoreError> {
        let doing = format!("reading the channel permissions of guild {guild}");
        let Some(item) =
            self.get_item(guild_pk(guild), ACCESS_SK.to_owned(), false, &doing).await?
        else {
            return Ok(None);
        };
        let data = items::get_b(&item, "data")?;
        GuildAccess::decode(data).map(Some).map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Corrupt,
                format!("{doing}: it does not decode"),
                e,
            )
        })
    }

    /// Stores the guild's channel permissions, replacing the last snapshot.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn put_guild_access(
        &self,
        guild: GuildId,
        access: &GuildAccess,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let item: Item = HashMap::from([
            (PK.to_owned(), s(guild_pk(guild))),
            (SK.to_owned(), s(ACCESS_SK)),
            ("data".to_owned(), b(access.encode()?)),
            ("updated_at_ms".to_owned(), n(now_ms)),
        ]);
        self.put_item(item, None, &format!("writing the channel permissions of guild {guild}"))
            .await
    }
}
