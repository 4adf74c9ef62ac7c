//! What the bot did with each activity role (`G#{guild}` / `ROLE#{role}`): whom it gave the role to, whom
//! it was about to change when it last stopped, when a run last applied the rule, and the last reason it
//! could not.
//!
//! Every write is conditional on the revision read, so two runs that overlap cannot both act on one
//! role: the second one's first write fails with [`StoreErrorKind::Conflict`] before it calls Discord.

use engagement_domain::visibility::RoleId;
use engagement_domain::{ActivityRole, GuildId, RoleRecord};

use crate::items::{self, Item, PK, SK, guild_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

const ROLE_PREFIX: &str = "ROLE#";
/// The attribute holding an item's revision (see [`CounterStore::put_revision`]).
pub(crate) const REVISION: &str = "rev";

fn role_sk(role: RoleId) -> String {
    format!("{ROLE_PREFIX}{role}")
}

/// One role's state, as read; change it and write it back with [`CounterStore::put_role_state`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleState {
    /// Whom the bot gave the role to, and whom it was changing.
    pub record: RoleRecord,
    /// When a run last went through the whole rule (Unix ms).
    pub applied_ms: Option<u64>,
    /// The rule as it was then: a changed rule is applied again at once.
    pub applied_rule: Option<ActivityRole>,
    /// Why the last run could not apply the rule, and when (Unix ms); `None` once a run could.
    pub problem: Option<(String, u64)>,
    /// The revision read (0: never stored).
    revision: u64,
}

impl CounterStore {
    /// The state of `role` in `guild` (an empty one if the bot never applied it).
    ///
    /// # Errors
    /// DynamoDB errors; a stored state that does not decode.
    pub async fn role_state(&self, guild: GuildId, role: RoleId) -> Result<RoleState, StoreError> {
        let doing = format!("reading what the bot did with role {role} in guild {guild}");
        let item = self.get_item(guild_pk(guild), role_sk(role), true, &doing).await?;
        item.map_or_else(|| Ok(RoleState::default()), |item| decode(&item, &doing))
    }

    /// Every role state of `guild`, by role (also of roles whose rule was removed: their record is kept,
    /// so adding the rule again does not forget whom the bot gave the role to).
    ///
    /// # Errors
    /// As [`role_state`](Self::role_state).
    pub async fn role_states(
        &self,
        guild: GuildId,
    ) -> Result<Vec<(RoleId, RoleState)>, StoreError> {
        let doing = format!("reading what the bot did with the roles of guild {guild}");
        let found = self
            .query_all(
                "pk = :pk AND begins_with(sk, :prefix)",
                vec![(":pk", s(guild_pk(guild))), (":prefix", s(ROLE_PREFIX))],
                true,
                &doing,
            )
            .await?;
        found
            .iter()
            .map(|item| {
                let role = items::get_s(item, SK)?
                    .strip_prefix(ROLE_PREFIX)
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| {
                        StoreError::new(
                            StoreErrorKind::Corrupt,
                            format!("{doing}: a key is not a role"),
                        )
                    })?;
                Ok((role, decode(item, &doing)?))
            })
            .collect()
    }

    /// Writes `state` back if nobody wrote it since it was read, and moves `state` to the new revision.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when another run wrote it in between (nothing is written: stop, that
    /// run is applying the rule); other DynamoDB errors.
    pub async fn put_role_state(
        &self,
        guild: GuildId,
        role: RoleId,
        state: &mut RoleState,
    ) -> Result<(), StoreError> {
        let doing = format!("recording what the bot did with role {role} in guild {guild}");
        let record = state.record.encode().map_err(|e| {
            StoreError::with_source(StoreErrorKind::Corrupt, format!("{doing}: encoding"), e)
        })?;
        let next = state.revision + 1;
        let mut item: Item = Item::from([
            (PK.to_owned(), s(guild_pk(guild))),
            (SK.to_owned(), s(role_sk(role))),
            ("record".to_owned(), items::b(record)),
            (REVISION.to_owned(), n(next)),
        ]);
        if let Some(at) = state.applied_ms {
            item.insert("applied_ms".to_owned(), n(at));
        }
        if let Some(rule) = &state.applied_rule {
            let json = serde_json::to_string(rule).map_err(|e| {
                StoreError::with_source(StoreErrorKind::Corrupt, format!("{doing}: encoding"), e)
            })?;
            item.insert("applied_rule".to_owned(), s(json));
        }
        if let Some((problem, at)) = &state.problem {
            item.insert("problem".to_owned(), s(problem.clone()));
            item.insert("problem_ms".to_owned(), n(*at));
        }
        self.put_revision(item, state.revision, &doing).await?;
        state.revision = next;
        Ok(())
    }

    /// Writes `item` (holding [`REVISION`] = `read` + 1) if the stored one is still at revision `read`
    /// (0: absent).
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when it is not; other DynamoDB errors.
    pub(crate) async fn put_revision(
        &self,
        item: Item,
        read: u64,
        doing: &str,
    ) -> Result<(), StoreError> {
        if read == 0 {
            self.put_item(item, Some("attribute_not_exists(pk)"), doing).await
        } else {
            let values = vec![(":rev", n(read))];
            self.put_item_where(item, Some("rev = :rev"), &[], values, doing).await
        }
    }
}

fn decode(item: &Item, doing: &str) -> Result<RoleState, StoreError> {
    let record = RoleRecord::decode(items::get_b(item, "record")?).map_err(|e| {
        StoreError::with_source(StoreErrorKind::Corrupt, format!("{doing}: the record"), e)
    })?;
    let applied_rule = match item.get("applied_rule") {
        None => None,
        Some(_) => {
            Some(serde_json::from_str(items::get_s(item, "applied_rule")?).map_err(|e| {
                StoreError::with_source(StoreErrorKind::Corrupt, format!("{doing}: the rule"), e)
            })?)
        }
    };
    let problem = match item.get("problem") {
        None => None,
        Some(_) => Some((
            items::get_s(item, "problem")?.to_owned(),
            items::get_u64_or(item, "problem_ms", 0)?,
        )),
    };
    Ok(RoleState {
        record,
        applied_ms: item
            .get("applied_ms")
            .map(|_| items::get_u64(item, "applied_ms"))
            .transpose()?,
        applied_rule,
        problem,
        revision: items::get_u64(item, REVISION)?,
    })
}
