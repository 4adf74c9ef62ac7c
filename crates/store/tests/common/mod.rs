//! What the store's moto-backed test files share: a fresh table, day literals, the guild.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses what it needs

use engagement_domain::{Day, GuildId};
use engagement_store::{CounterStore, TableCreation};

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
