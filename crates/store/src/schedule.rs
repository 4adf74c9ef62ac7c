//! Each guild's check schedule (`SCHEDULE` / `G#{guild}`): when the sync last checked it completely, how
//! many checks in a row found nothing, and the last slash command from it. One partition, read with one
//! Query a run; see [`engagement_domain::schedule`] for what the sync decides from it. Beside the rows,
//! `SCHEDULE` / `LISTED` keeps the bot's guild listing, so that runs between listings do not page
//! through `GET /users/@me/guilds`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use engagement_domain::{GuildId, GuildSchedule};

use crate::items::{self, Item, b, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

const SCHEDULE_PK: &str = "SCHEDULE";
const GUILD_PREFIX: &str = "G#";
const CHECKED: &str = "checked_ms";
const QUIET: &str = "quiet_checks";
const NUDGED: &str = "nudged_ms";
const ROLES_LISTED: &str = "roles_listed_ms";
const LISTED_SK: &str = "LISTED";
const LISTED_AT: &str = "listed_ms";
const LISTED_GUILDS: &str = "guilds";

/// The bot's guilds as a run last listed them from Discord.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuildListing {
    /// When (Unix ms, the run's clock).
    pub listed_ms: u64,
    /// The guilds, in Discord's order.
    pub guilds: Vec<GuildId>,
}

impl CounterStore {
    /// Every guild's schedule row (eventually consistent: a row a moment old only moves a check by one
    /// run).
    ///
    /// # Errors
    /// DynamoDB errors; a row that does not read.
    pub async fn guild_schedules(&self) -> Result<BTreeMap<GuildId, GuildSchedule>, StoreError> {
        let found = self
            .query_all(
                "pk = :pk AND begins_with(sk, :prefix)",
                vec![(":pk", s(SCHEDULE_PK)), (":prefix", s(GUILD_PREFIX))],
                false,
                "reading the guilds' check schedule",
            )
            .await?;
        found
            .iter()
            .map(|item| {
                let sk = items::get_s(item, items::SK)?;
                let guild = sk
                    .strip_prefix(GUILD_PREFIX)
                    .and_then(|id| id.parse().ok())
                    .map(GuildId)
                    .ok_or_else(|| {
                        StoreError::new(
                            StoreErrorKind::Corrupt,
                            format!("schedule row `{sk}` does not name a guild"),
                        )
                    })?;
                let row = GuildSchedule {
                    checked_ms: items::get_u64_or(item, CHECKED, 0)?,
                    quiet_checks: u32::try_from(items::get_u64_or(item, QUIET, 0)?)
                        .unwrap_or(u32::MAX),
                    nudged_ms: items::get_u64_or(item, NUDGED, 0)?,
                    roles_listed_ms: items::get_u64_or(item, ROLES_LISTED, 0)?,
                };
                Ok((guild, row))
            })
            .collect()
    }

    /// Records a complete check of the guild. The nudge is left alone: a slash command during the check
    /// keeps the guild urgent for the next run.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn record_check(
        &self,
        guild: GuildId,
        row: &GuildSchedule,
    ) -> Result<(), StoreError> {
        self.update_schedule(
            guild,
            &[
                (CHECKED, n(row.checked_ms)),
                (QUIET, n(row.quiet_checks)),
                (ROLES_LISTED, n(row.roles_listed_ms)),
            ],
            &format!("recording the check of guild {guild}"),
        )
        .await
    }

    /// Notes a slash command from the guild at `now_ms`: the next sync run checks it first, whatever its
    /// back-off.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn nudge_guild(&self, guild: GuildId, now_ms: u64) -> Result<(), StoreError> {
        self.update_schedule(guild, &[(NUDGED, n(now_ms))], &format!("nudging guild {guild}")).await
    }

    /// The guild listing a run stored last, if any.
    ///
    /// # Errors
    /// DynamoDB errors; a listing that does not decode.
    pub async fn guild_listing(&self) -> Result<Option<GuildListing>, StoreError> {
        let doing = "reading the stored guild listing";
        let Some(item) =
            self.get_item(SCHEDULE_PK.to_owned(), LISTED_SK.to_owned(), false, doing).await?
        else {
            return Ok(None);
        };
        let packed = items::get_b(&item, LISTED_GUILDS)?;
        if packed.len() % 8 != 0 {
            return Err(StoreError::new(
                StoreErrorKind::Corrupt,
                format!("{doing}: {} bytes is not a list of guild ids", packed.len()),
            ));
        }
        let guilds = packed
            .chunks_exact(8)
            .map(|id| GuildId(u64::from_le_bytes(id.try_into().unwrap_or_default())))
            .collect();
        Ok(Some(GuildListing { listed_ms: items::get_u64(&item, LISTED_AT)?, guilds }))
    }

    /// Stores the guild listing (8 bytes a guild: one item holds about 50,000).
    ///
    /// # Errors
    /// DynamoDB errors (an item too big among them).
    pub async fn put_guild_listing(&self, listing: &GuildListing) -> Result<(), StoreError> {
        let packed: Vec<u8> = listing.guilds.iter().flat_map(|g| g.0.to_le_bytes()).collect();
        let item = Item::from([
            (items::PK.to_owned(), s(SCHEDULE_PK)),
            (items::SK.to_owned(), s(LISTED_SK)),
            (LISTED_AT.to_owned(), n(listing.listed_ms)),
            (LISTED_GUILDS.to_owned(), b(packed)),
        ]);
        self.put_item(item, None, "storing the guild listing").await
    }

    /// Forgets a guild the bot is no longer in: its schedule row and, when `relist`, the stored
    /// listing (the next run lists the guilds again).
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn forget_guild(&self, guild: GuildId, relist: bool) -> Result<(), StoreError> {
        let key = items::key(SCHEDULE_PK.to_owned(), format!("{GUILD_PREFIX}{guild}"));
        self.delete_item(key, &format!("forgetting guild {guild}'s schedule")).await?;
        if relist {
            let key = items::key(SCHEDULE_PK.to_owned(), LISTED_SK.to_owned());
            self.delete_item(key, "forgetting the stored guild listing").await?;
        }
        Ok(())
    }

    async fn update_schedule(
        &self,
        guild: GuildId,
        sets: &[(&str, AttributeValue)],
        doing: &str,
    ) -> Result<(), StoreError> {
        self.usage.write_request();
        self.faults.before_write(doing)?;
        self.usage.request();
        let expression: Vec<String> = (0..sets.len()).map(|i| format!("#a{i} = :v{i}")).collect();
        let mut update = self
            .client()
            .await
            .update_item()
            .table_name(self.table())
            .set_key(Some(items::key(SCHEDULE_PK.to_owned(), format!("{GUILD_PREFIX}{guild}"))))
            .update_expression(format!("SET {}", expression.join(", ")));
        for (i, (attribute, value)) in sets.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), *attribute)
                .expression_attribute_values(format!(":v{i}"), value.clone());
        }
        update.send().await.map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
        self.usage.write(64);
        self.faults.after_write(doing)
    }
}
