//! Where a member still appears: the check behind an erasure's promise.

use std::ops::ControlFlow;

use engagement_domain::summary::{Span, Summary};
use engagement_domain::{DayActivity, FirstSeenShard, GuildId, Month, UserId};

use crate::items::{self, SK, day_pk, log_pk, s};
use crate::log::decode_batch;
use crate::{CounterStore, StoreError};

impl CounterStore {
    /// Every place in a guild's data that still holds counters or reaction state of `user`: each day
    /// summary item (of any generation), each month and all-time summary, each day's activity and
    /// first-seen shard, each batch still in the log (its counters, and the authors and reactors of its
    /// reaction state). An erasure record (a batch's list of erased members) and the
    /// opt-out list name the member by design and are not reported. Reads the whole guild: an
    /// operator's check and the tests', not a hot path.
    ///
    /// # Errors
    /// DynamoDB errors; items that do not decode.
    pub async fn find_member(
        &self,
        guild: GuildId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        let holds = |summary: &Summary| summary.tally.counters.keys().any(|(_, u)| *u == user);
        // Every day summary item, of every generation (a day keeps its previous one until the next
        // fold overwrites it): item by item, not only the generation readers take.
        self.query_pages(
            "pk = :pk",
            vec![(":pk", s(day_pk(guild)))],
            true,
            &format!("reading the day summaries of guild {guild}"),
            |page| {
                for item in &page {
                    if engagement_domain::summary::shard_holds(items::get_b(item, "data")?, user)? {
                        found.push(format!("day summary item {}", items::get_s(item, SK)?));
                    }
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        let (first, last) = (Month { year: 1970, month: 1 }, Month { year: 2500, month: 12 });
        for (month, stored) in self.read_month_summaries(guild, first, last, 0).await? {
            if holds(&stored.summary) {
                found.push(format!("month summary {month}"));
            }
        }
        if holds(&self.read_summary(guild, Span::AllTime, 0).await?.summary) {
            found.push("all-time summary".to_owned());
        }
        self.query_pages(
            "pk = :pk",
            vec![(":pk", s(items::activity_pk(guild)))],
            true,
            &format!("reading the day activity of guild {guild}"),
            |page| {
                for item in page.iter().filter(|item| item.contains_key("data")) {
                    let activity = DayActivity::decode(items::get_b(item, "data")?)?;
                    if activity.tally.counters.keys().any(|(_, u)| *u == user) {
                        found.push(format!("activity of {}", activity.day));
                    }
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        for item in self
            .query_all(
                "pk = :pk",
                vec![(":pk", s(items::first_seen_pk(guild)))],
                true,
                &format!("reading the first-seen days of guild {guild}"),
            )
            .await?
        {
            let shard = FirstSeenShard::decode(items::get_b(&item, "data")?)?;
            if shard.first.keys().any(|(u, _)| *u == user) {
                found.push(format!("first-seen shard {}", shard.shard));
            }
        }
        self.query_pages(
            "pk = :pk",
            vec![(":pk", s(log_pk(guild)))],
            true,
            &format!("reading the batch log of guild {guild}"),
            |page| {
                for item in &page {
                    let batch = decode_batch(item)?;
                    if batch.counters.iter().any(|c| c.user == user) {
                        found.push(format!("counters of batch {}", batch.seq));
                    }
                    let in_reactions = batch.reactions.iter().any(|state| {
                        state.author == Some(user)
                            || state.emojis.iter().any(|e| e.reactors.contains(&user))
                    });
                    if in_reactions {
                        found.push(format!("reaction state of batch {}", batch.seq));
                    }
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        Ok(found)
    }
}
