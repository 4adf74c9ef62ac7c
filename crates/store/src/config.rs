//! Guild configuration and erasure of a member's data.

use std::collections::{BTreeSet, HashMap};

use engagement_domain::{Batch, GuildConfig, GuildId, UserId};

use crate::compaction::CompactionPolicy;
use crate::items::{self, CONFIG_SK, Item, PK, SK, guild_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// The attribute holding a configuration's version.
const VERSION: &str = "config_version";

/// Which stored configuration a change was made to, so that writing it back fails instead of losing a
/// change made in between (two admins at once, or a member opting out while an admin excludes a channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigVersion(Option<u64>);

impl ConfigVersion {
    /// No configuration stored yet.
    pub const NONE: Self = Self(None);
}

/// How many times [`CounterStore::update_guild_config`] re-reads after losing a race.
const CONFIG_UPDATE_ATTEMPTS: usize = 8;

impl CounterStore {
    /// A guild's configuration, if it was ever set.
    ///
    /// # Errors
    /// DynamoDB errors; a stored configuration that does not parse.
    pub async fn guild_config(&self, guild: GuildId) -> Result<Option<GuildConfig>, StoreError> {
        Ok(self.guild_config_for_update(guild).await?.0)
    }

    /// A guild's configuration, if it was ever set, and its version for
    /// [`put_guild_config`](Self::put_guild_config).
    ///
    /// # Errors
    /// DynamoDB errors; a stored configuration that does not parse.
    pub async fn guild_config_for_update(
        &self,
        guild: GuildId,
    ) -> Result<(Option<GuildConfig>, ConfigVersion), StoreError> {
        let item = self
            .get_item(
                guild_pk(guild),
                CONFIG_SK.to_owned(),
                true,
                &format!("reading the configuration of guild {guild}"),
            )
            .await?;
        let Some(item) = item else { return Ok((None, ConfigVersion::NONE)) };
        let config = serde_json::from_str(items::get_s(&item, "config")?).map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Corrupt,
                format!("the configuration of guild {guild} does not parse"),
                e,
            )
        })?;
        // Items written before versions existed count as version 0.
        let version = items::get_u64_or(&item, VERSION, 0)?;
        Ok((Some(config), ConfigVersion(Some(version))))
    }

    /// Replaces a guild's configuration if it is still at `expected` (from
    /// [`guild_config_for_update`](Self::guild_config_for_update)).
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when it changed since (read it again and redo the change); other
    /// DynamoDB errors.
    pub async fn put_guild_config(
        &self,
        guild: GuildId,
        config: &GuildConfig,
        expected: ConfigVersion,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(config).map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Configuration,
                "the configuration cannot be written as JSON",
                e,
            )
        })?;
        let next = expected.0.map_or(1, |v| v + 1);
        let item: Item = HashMap::from([
            (PK.to_owned(), s(guild_pk(guild))),
            (SK.to_owned(), s(CONFIG_SK)),
            ("config".to_owned(), s(json)),
            (VERSION.to_owned(), n(next)),
            ("updated_at".to_owned(), n(chrono::Utc::now().timestamp())),
        ]);
        let doing = format!("writing the configuration of guild {guild}");
        match expected.0 {
            None => self.put_item(item, Some("attribute_not_exists(pk)"), &doing).await,
            Some(0) => {
                let condition = "attribute_exists(pk) AND (attribute_not_exists(config_version) OR config_version = :v)";
                self.put_item_where(item, Some(condition), &[], vec![(":v", n(0))], &doing).await
            }
            Some(v) => {
                self.put_item_where(
                    item,
                    Some("config_version = :v"),
                    &[],
                    vec![(":v", n(v))],
                    &doing,
                )
                .await
            }
        }
    }

    /// Reads, changes and writes back a guild's configuration (`default` when none is stored), again
    /// from a fresh read whenever another writer got in between. `change` returns whether it changed
    /// anything; nothing is written when it did not. Returns that.
    ///
    /// # Errors
    /// DynamoDB errors; [`StoreErrorKind::Conflict`] after losing the race
    /// [`CONFIG_UPDATE_ATTEMPTS`] times.
    pub async fn update_guild_config(
        &self,
        guild: GuildId,
        default: &GuildConfig,
        mut change: impl FnMut(&mut GuildConfig) -> bool + Send,
    ) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (stored, version) = self.guild_config_for_update(guild).await?;
            let mut config = stored.unwrap_or_else(|| default.clone());
            if !change(&mut config) {
                return Ok(false);
            }
            match self.put_guild_config(guild, &config, version).await {
                Err(e)
                    if e.kind() == StoreErrorKind::Conflict && attempt < CONFIG_UPDATE_ATTEMPTS => {
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(true),
            }
        }
    }

    /// Erases every counter of a member in a guild: appends an erasure to the log (readers stop seeing the
    /// member at once), folds it into every summary, then removes the member from the batches still in the
    /// log. The member is also opted out, so the next sync does not count them again.
    ///
    /// # Errors
    /// DynamoDB errors. Re-running after an error finishes the job.
    pub async fn erase_member(
        &self,
        guild: GuildId,
        user: UserId,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.update_guild_config(guild, &GuildConfig::default(), |c| c.opted_out.insert(user))
            .await?;
        let mut view = self.log_tail_view(guild).await?;
        let batch = Batch { created_at_ms: now_ms, erasures: vec![user], ..Batch::default() };
        self.commit(&mut view, batch).await?;
        // Folding the erasure removes the member from every summary and from the log.
        self.compact(guild, CompactionPolicy::ALWAYS, now_ms).await.map(|_| ())
    }

    /// A view of the log's tail only (no cursors or reactions), for appending batches that move no cursor.
    async fn log_tail_view(&self, guild: GuildId) -> Result<crate::SyncView, StoreError> {
        let fold = self.fold_state(guild).await?;
        let after =
            self.read_batches_after(guild, fold.days_through.max(fold.all_time_through)).await?;
        Ok(crate::SyncView {
            guild,
            seq: after.last().map_or(fold.days_through.max(fold.all_time_through), |b| b.seq),
            cursors: engagement_domain::CursorTable::default(),
            reactions: engagement_domain::ReactionLedger::default(),
            oldest_unfolded_ms: None,
            erased: BTreeSet::new(),
        })
    }
}
