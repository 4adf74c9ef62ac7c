//! Keys and attributes of the table's items. `docs/schema.md` lists them all.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use engagement_domain::{Day, GuildId};

use crate::{StoreError, StoreErrorKind};

/// An item as the SDK sees it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub(crate) const PK: &str = "pk";
/// Sort key attribute.
pub(crate) const SK: &str = "sk";
/// TTL attribute (epoch seconds).
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// Partition of a guild's batch log; sort key: zero-padded sequence number.
pub(crate) fn log_pk(guild: GuildId) -> String {
    format!("G#{guild}#LOG")
}

pub(crate) fn log_sk(seq: u64) -> String {
    format!("{seq:020}")
}

/// Partition of a guild's day summaries; sort key `YYYY-MM-DD#generation#shard`.
pub(crate) fn day_pk(guild: GuildId) -> String {
    format!("G#{guild}#DAY")
}

/// Partition of a guild's day directory: which generation of each day's summary is the newest, and in
/// how many shards, so that one member's shard is read alone; sort key `YYYY-MM-DD`.
pub(crate) fn day_directory_pk(guild: GuildId) -> String {
    format!("G#{guild}#DAYDIR")
}

/// Partition of the days whose previous summary generation is still stored (in the other slot), to
/// be deleted once the day stops changing; sort key `YYYY-MM-DD`.
pub(crate) fn previous_generation_pk(guild: GuildId) -> String {
    format!("G#{guild}#PREV")
}

/// Partition of a guild's month summaries; sort key `YYYY-MM#generation#shard`.
pub(crate) fn month_pk(guild: GuildId) -> String {
    format!("G#{guild}#MONTH")
}

/// Partition of a guild's all-time summary; sort key `generation#shard`.
pub(crate) fn all_time_pk(guild: GuildId) -> String {
    format!("G#{guild}#ALL")
}

/// Partition of a guild's hourly counts, one item per day; sort key `YYYY-MM-DD`.
pub(crate) fn hours_pk(guild: GuildId) -> String {
    format!("G#{guild}#HOURS")
}

/// Partition of a guild's day activity (messages per channel and member), one item per day; sort key
/// `YYYY-MM-DD`.
pub(crate) fn activity_pk(guild: GuildId) -> String {
    format!("G#{guild}#ACTIVE")
}

/// Partition of a guild's first-seen days, one item per shard; sort key the shard, 3 digits.
pub(crate) fn first_seen_pk(guild: GuildId) -> String {
    format!("G#{guild}#FIRST")
}

/// Partition of a guild's folded channel cursors; sort key: channel id.
pub(crate) fn cursor_pk(guild: GuildId) -> String {
    format!("G#{guild}#CURSOR")
}

/// Partition of a guild's single items (configuration, fold state).
pub(crate) fn guild_pk(guild: GuildId) -> String {
    format!("G#{guild}")
}

pub(crate) const CONFIG_SK: &str = "CONFIG";
pub(crate) const FOLD_SK: &str = "FOLD";

/// Sort key prefix of one day's summary shards.
pub(crate) fn day_prefix(day: Day) -> String {
    format!("{day}#")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn b(bytes: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn corrupt(item: &Item, attribute: &str, what: &str) -> StoreError {
    let pk = item.get(PK).and_then(|v| v.as_s().ok()).map_or("?", String::as_str);
    let sk = item.get(SK).and_then(|v| v.as_s().ok()).map_or("?", String::as_str);
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("item {pk}/{sk}: attribute `{attribute}` {what}"),
    )
}

pub(crate) fn get_s<'a>(item: &'a Item, attribute: &str) -> Result<&'a str, StoreError> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(item, attribute, "is missing or not a string"))
}

pub(crate) fn get_u64(item: &Item, attribute: &str) -> Result<u64, StoreError> {
    item.get(attribute)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(item, attribute, "is missing or not a whole number"))
}

pub(crate) fn get_u64_or(item: &Item, attribute: &str, default: u64) -> Result<u64, StoreError> {
    if item.contains_key(attribute) { get_u64(item, attribute) } else { Ok(default) }
}

pub(crate) fn get_b<'a>(item: &'a Item, attribute: &str) -> Result<&'a [u8], StoreError> {
    item.get(attribute)
        .and_then(|v| v.as_b().ok())
        .map(Blob::as_ref)
        .ok_or_else(|| corrupt(item, attribute, "is missing or not binary"))
}
