//! How fresh a guild's counts are: the time up to which its last complete sync run counted (`G#{guild}` /
//! `SYNCED`), which every report states.

use engagement_domain::GuildId;

use crate::CounterStore;
use crate::error::StoreError;
use crate::items::{self, Item, guild_pk, n, s};

const SYNCED_SK: &str = "SYNCED";
const COUNTED_TO: &str = "counted_to_ms";

impl CounterStore {
    /// Records that a sync run went through every channel of the guild, counting every message sent
    /// before `counted_to_ms` (Unix ms, when the run started). Only moves forward.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn record_synced(
        &self,
        guild: GuildId,
        counted_to_ms: u64,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            (items::PK.to_owned(), s(guild_pk(guild))),
            (items::SK.to_owned(), s(SYNCED_SK)),
            (COUNTED_TO.to_owned(), n(counted_to_ms)),
        ]);
        let doing = format!("recording the sync of guild {guild}");
        self.put_item_if_newer(item, (COUNTED_TO, counted_to_ms), &doing).await.map(|_| ())
    }

    /// Up to when the guild's last complete sync run counted (Unix ms); `None` before the first.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn last_synced(&self, guild: GuildId) -> Result<Option<u64>, StoreError> {
        let doing = format!("reading when guild {guild} was last synced");
        match self.get_item(guild_pk(guild), SYNCED_SK.to_owned(), false, &doing).await? {
            Some(item) => Ok(Some(items::get_u64(&item, COUNTED_TO)?)),
            None => Ok(None),
        }
    }
}
