//! What the store's moto-backed test files share: a fresh table, day literals, the guild.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses what it needs

use engagement_domain::{Batch, ChannelId, Day, GuildId};
use engagement_store::{CounterStore, TableCreation};
use engagement_testkit::memory::MemoryCounters;

/// The guild the tests count in.
pub const G: GuildId = GuildId(1);

/// A store over a new table, unique to the test, in the moto server `scripts/test` starts.
pub async fn store(prefix: &str) -> anyhow::Result<CounterStore> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(prefix).await?;
    let store = CounterStore::new(client, table);
    assert_eq!(store.create_table().await?, TableCreation::Created);
    Ok(store)
}

/// A day from `YYYY-MM-DD`.
pub fn day(s: &str) -> Day {
    s.parse().unwrap()
}

/// Applies a batch to the in-memory model the store's reads are compared with: its counters (channel 10
/// is in category 99, the others in none), its hourly counts and its erasures.
pub fn model(memory: &mut MemoryCounters, batch: &Batch) {
    for d in &batch.counters {
        let category = (d.channel == ChannelId(10)).then_some(ChannelId(99));
        memory.add(G, d.day, d.channel, category, d.user, d.counts);
    }
    for h in &batch.hours {
        memory.add_hour(G, (h.day, h.hour), h.channel, h.messages);
    }
    for &user in &batch.erasures {
        memory.erase(G, user);
    }
}
