//! Requests and capacity units, estimated with DynamoDB's billing rules.
//!
//! DynamoDB bills a write by the larger of the old and new item size, 1 WRU per started KiB; a strongly
//! consistent read 1 RRU per started 4 KiB (half for eventually consistent reads), a Query by the summed size
//! of the items it returns. Moto does not report consumed capacity, so the store measures item sizes itself
//! (attribute names plus values) and applies those rules; benchmarks read this to report cost per message.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::items::Item;

/// Totals since the store was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests sent to DynamoDB.
    pub requests: u64,
    /// Of those, write requests.
    pub write_requests: u64,
    /// Write request units.
    pub write_units: u64,
    /// Read request units, in halves (an eventually consistent 4 KiB read is 1 half).
    pub read_half_units: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

impl Usage {
    /// Read request units (rounded up).
    #[must_use]
    pub const fn read_units(&self) -> u64 {
        self.read_half_units.div_ceil(2)
    }

    /// The usage since an earlier snapshot.
    #[must_use]
    pub const fn since(&self, earlier: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            write_requests: self.write_requests.saturating_sub(earlier.write_requests),
            write_units: self.write_units.saturating_sub(earlier.write_units),
            read_half_units: self.read_half_units.saturating_sub(earlier.read_half_units),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct UsageMeter {
    requests: AtomicU64,
    write_requests: AtomicU64,
    write_units: AtomicU64,
    read_half_units: AtomicU64,
    bytes_written: AtomicU64,
    /// Size of the item the next write replaces (0: none said).
    replaced: AtomicU64,
}

impl UsageMeter {
    pub(crate) fn snapshot(&self) -> Usage {
        Usage {
            requests: self.requests.load(Ordering::Relaxed),
            write_requests: self.write_requests.load(Ordering::Relaxed),
            write_units: self.write_units.load(Ordering::Relaxed),
            read_half_units: self.read_half_units.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A write request was sent (counted before the answer, like a crash point).
    pub(crate) fn write_request(&self) {
        self.write_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A write of an item of `bytes`, billed as the larger of it and the item it replaces (when
    /// [`replacing`](Self::replacing) said so just before).
    pub(crate) fn write(&self, bytes: usize) {
        let replaced =
            usize::try_from(self.replaced.swap(0, Ordering::Relaxed)).unwrap_or(usize::MAX);
        let units = u64::try_from(bytes.max(replaced).div_ceil(1024).max(1)).unwrap_or(u64::MAX);
        self.write_units.fetch_add(units, Ordering::Relaxed);
        self.bytes_written.fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The next write replaces an item of `bytes`: DynamoDB bills the larger of the two, so what the
    /// old item weighs beyond the new one is billed here (see [`write`](Self::write)).
    pub(crate) fn replacing(&self, bytes: usize) {
        self.replaced.store(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// A read returning `bytes` in total.
    pub(crate) fn read(&self, bytes: usize, consistent: bool) {
        let units = u64::try_from(bytes.div_ceil(4096).max(1)).unwrap_or(u64::MAX);
        self.read_half_units
            .fetch_add(if consistent { units * 2 } else { units }, Ordering::Relaxed);
    }
}

/// The size DynamoDB bills for an item: attribute names plus values.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        // Numbers: about one byte per two significant digits, plus one.
        AttributeValue::N(n) => n.trim_start_matches(['-', '0']).len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum::<usize>()
        }
        _ => 0,
    }
}
