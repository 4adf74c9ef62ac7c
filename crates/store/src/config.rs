//! Guild configuration and erasure of a member's data.

use std::collections::HashMap;

use engagement_domain::{Batch, GuildConfig, GuildId, UserId};

use crate::compaction::CompactionPolicy;
use crate::items::{self, CONFIG_SK, Item, PK, SK, guild_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

impl CounterStore {
    /// A guild's configuration, if it was ever set.
    ///
    /// # Errors
    /// DynamoDB errors; a stored configuration that does not parse.
    pub async fn guild_config(&self, guild: GuildId) -> Result<Option<GuildConfig>, StoreError> {
        let item = self
            .get_item(
                guild_pk(guild),
                CONFIG_SK.to_owned(),
                true,
                &format!("reading the configuration of guild {guild}"),
            )
            .await?;
        match item {
            None => Ok(None),
            Some(item) => {
                serde_json::from_str(items::get_s(&item, "config")?).map(Some).map_err(|e| {
                    StoreError::with_source(
                        StoreErrorKind::Corrupt,
                        format!("the configuration of guild {guild} does not parse"),
                        e,
                    )
                })
            }
        }
    }

    /// Replaces a guild's configuration.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn put_guild_config(
        &self,
        guild: GuildId,
        config: &GuildConfig,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(config).map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Configuration,
                "the configuration cannot be written as JSON",
                e,
            )
        })?;
        let item: Item = HashMap::from([
            (PK.to_owned(), s(guild_pk(guild))),
            (SK.to_owned(), s(CONFIG_SK)),
            ("config".to_owned(), s(json)),
            ("updated_at".to_owned(), n(chrono::Utc::now().timestamp())),
        ]);
        self.put_item(item, None, &format!("writing the configuration of guild {guild}")).await
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
        let mut config = self.guild_config(guild).await?.unwrap_or_default();
        if config.opted_out.insert(user) {
            self.put_guild_config(guild, &config).await?;
        }
        let mut view = self.log_tail_view(guild).await?;
        let batch = Batch { created_at_ms: now_ms, erasures: vec![user], ..Batch::default() };
        let erased_at = self.commit(&mut view, batch).await?;
        self.compact(guild, CompactionPolicy::ALWAYS, now_ms).await?;
        for mut batch in self.read_all_batches(guild).await? {
            if batch.seq >= erased_at {
                continue;
            }
            let before = batch.clone();
            batch.counters.retain(|c| c.user != user);
            for state in &mut batch.reactions {
                if state.author == Some(user) {
                    state.author = None;
                }
                for e in &mut state.emojis {
                    e.reactors.retain(|r| *r != user);
                }
            }
            if batch != before {
                self.rewrite_batch(guild, &batch).await?;
            }
        }
        Ok(())
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
        })
    }
}
