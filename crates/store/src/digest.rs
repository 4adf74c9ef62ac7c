//! The digest's progress (`G#{guild}` / `DIGEST`): which post was last due, whether it was posted (and
//! as which message), and when a run started posting it. Written conditionally on its revision, so of
//! two runs that would post the same digest only one does.

use engagement_domain::{ChannelId, Day, GuildId};

use crate::items::{self, Item, PK, SK, guild_pk, n, s};
use crate::roles::REVISION;
use crate::{CounterStore, StoreError, StoreErrorKind};

const DIGEST_SK: &str = "DIGEST";

/// The digest's progress, as read; change it and write it back with [`CounterStore::put_digest_state`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestState {
    /// The due day of the latest post a run started.
    pub due: Option<Day>,
    /// The channel it was claimed for.
    pub channel: Option<ChannelId>,
    /// When a run claimed it, or last found it refused (Unix ms, wall clock).
    pub attempt_ms: u64,
    /// The message it became, once posted.
    pub message_id: Option<u64>,
    /// Why it could not be posted (the channel or a permission), if it could not.
    pub problem: Option<String>,
    revision: u64,
}

impl CounterStore {
    /// The guild's digest progress (empty if no digest was ever posted).
    ///
    /// # Errors
    /// DynamoDB errors; a stored state that does not read.
    pub async fn digest_state(&self, guild: GuildId) -> Result<DigestState, StoreError> {
        let doing = format!("reading the digest state of guild {guild}");
        let Some(item) = self.get_item(guild_pk(guild), DIGEST_SK.to_owned(), true, &doing).await?
        else {
            return Ok(DigestState::default());
        };
        let due = items::get_s(&item, "due")?.parse().map_err(|_| {
            StoreError::new(StoreErrorKind::Corrupt, format!("{doing}: `due` is not a day"))
        })?;
        let optional_u64 = |name| item.get(name).map(|_| items::get_u64(&item, name)).transpose();
        Ok(DigestState {
            due: Some(due),
            channel: optional_u64("channel")?.map(ChannelId),
            attempt_ms: items::get_u64_or(&item, "attempt_ms", 0)?,
            message_id: optional_u64("message_id")?,
            problem: item
                .get("problem")
                .map(|_| items::get_s(&item, "problem"))
                .transpose()?
                .map(str::to_owned),
            revision: items::get_u64(&item, REVISION)?,
        })
    }

    /// Writes `state` back if nobody wrote it since it was read, and moves `state` to the new revision.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when another run wrote it in between (nothing is written); other
    /// DynamoDB errors.
    pub async fn put_digest_state(
        &self,
        guild: GuildId,
        state: &mut DigestState,
    ) -> Result<(), StoreError> {
        let doing = format!("recording the digest of guild {guild}");
        let Some(due) = state.due else {
            return Err(StoreError::new(
                StoreErrorKind::Configuration,
                format!("{doing}: no due day"),
            ));
        };
        let next = state.revision + 1;
        let mut item: Item = Item::from([
            (PK.to_owned(), s(guild_pk(guild))),
            (SK.to_owned(), s(DIGEST_SK)),
            ("due".to_owned(), s(due.to_string())),
            ("attempt_ms".to_owned(), n(state.attempt_ms)),
            (REVISION.to_owned(), n(next)),
        ]);
        if let Some(channel) = state.channel {
            item.insert("channel".to_owned(), n(channel.get()));
        }
        if let Some(id) = state.message_id {
            item.insert("message_id".to_owned(), n(id));
        }
        if let Some(problem) = &state.problem {
            item.insert("problem".to_owned(), s(problem.clone()));
        }
        self.put_revision(item, state.revision, &doing).await?;
        state.revision = next;
        Ok(())
    }
}
