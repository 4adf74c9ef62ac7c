//! Replies built from the counters. [`Reporter::answer`] is the single entry point: the interactions
//! function calls it for short reports, the followup function for deferred ones. It reads through the
//! [`CounterReader`] port: the DynamoDB store in the functions, an in-memory one in tests.

pub mod activity;
mod channel;
pub mod digest;
pub mod export;
pub mod insights;
pub mod leaderboard;
pub mod overview;
mod stats;

use std::ops::ControlFlow;

use engagement_domain::{
    Audience, CounterReader, Day, DayRange, GuildConfig, GuildId, Scope, Tally, UserId,
};

use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{ActivityView, Report, ReportPeriod, ReportRequest, ScopeName};
use crate::visibility::{self, Shown};
use twilight_model::channel::message::embed::EmbedFooter;

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// Something about the request the user can change (no data for the range, an excluded channel, …);
    /// shown as is.
    #[error("{0}")]
    User(String),
    /// Reading the counters failed.
    #[error("reading the counters failed: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The chart could not be drawn.
    #[error("drawing the chart failed: {0}")]
    Chart(String),
}

impl AnswerError {
    /// A failure the user can do something about.
    pub fn user(message: impl Into<String>) -> Self {
        Self::User(message.into())
    }

    /// A failed read of the counters.
    pub fn read(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Read(Box::new(error))
    }
}

/// Builds replies from the counters `reader` reads.
#[derive(Clone, Debug)]
pub struct Reporter<R> {
    reader: R,
}

impl<R: CounterReader> Reporter<R> {
    /// A reporter reading through `reader`.
    #[must_use]
    pub const fn new(reader: R) -> Self {
        Self { reader }
    }

    /// Builds the reply to `request` for `audience` under the guild's settings `config`: excluded
    /// channels, opted-out members and channels the audience cannot view are left out (channel
    /// visibility from the snapshot the sync keeps, [`CounterReader::guild_access`]; with no snapshot
    /// yet, only [`Audience::Everything`] sees any channel).
    ///
    /// # Errors
    /// [`AnswerError::User`] for a request that has nothing to show (explained), others for failures.
    pub async fn answer(
        &self,
        request: &ReportRequest,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Reply, AnswerError> {
        let shown = self.shown(request.guild, config, audience).await?;
        let mut reply = self.answer_here(request, &shown).await?;
        // The report stands without it: a failed read of the freshness leaves the line out.
        let Ok(synced) = self.reader.last_synced(request.guild).await else { return Ok(reply) };
        let fresh = format::freshness(synced, request.period.now_ms, request.period.time_zone);
        match reply.embeds.first_mut() {
            Some(embed) => {
                let footer = embed.footer.get_or_insert_with(|| EmbedFooter {
                    icon_url: None,
                    proxy_icon_url: None,
                    text: String::new(),
                });
                footer.text = if footer.text.is_empty() {
                    capitalised(&fresh)
                } else {
                    format!("{} · {fresh}", footer.text)
                };
            }
            None => {
                let line = format!("-# {}", capitalised(&fresh));
                reply.content = Some(match reply.content.take().filter(|c| !c.is_empty()) {
                    Some(content) => format!("{content}\n{line}"),
                    None => line,
                });
            }
        }
        Ok(reply)
    }

    /// What `audience` may see of `guild` under its settings `config` (see [`Self::answer`]).
    async fn shown(
        &self,
        guild: GuildId,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Shown, AnswerError> {
        let access = match audience {
            Audience::Everything => None,
            Audience::Public | Audience::Member { .. } => {
                self.reader.guild_access(guild).await.map_err(AnswerError::read)?
            }
        };
        Ok(Shown::for_audience(config.clone(), access.as_ref(), audience))
    }

    /// What `audience` may see of `guild` for a report limited to `scope`: a channel must be counted
    /// and visible to the audience (as [`Self::answer`] refuses it).
    async fn shown_in(
        &self,
        guild: GuildId,
        scope: Scope,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Shown, AnswerError> {
        let shown = self.shown(guild, config, audience).await?;
        if let Some(channel) = scope_channel(scope) {
            check_counted(config, channel)?;
            shown.check_visible(channel)?;
        }
        Ok(shown)
    }

    /// The reply to `request`, once its channel scope is checked against the guild's settings.
    async fn answer_here(
        &self,
        request: &ReportRequest,
        shown: &Shown,
    ) -> Result<Reply, AnswerError> {
        if let Some(channel) = request.report.channel_scope().and_then(scope_channel) {
            check_counted(&shown.config, channel)?;
            shown.check_visible(channel)?;
        }
        match request.report {
            Report::Stats { member } => stats::answer(self, request, member, shown).await,
            Report::ChannelStats { scope } => channel::answer(self, request, scope, shown).await,
            Report::Leaderboard { ranked, metric, scope } => {
                leaderboard::answer(self, request, ranked, metric, scope, shown).await
            }
            Report::Activity { scope, view: ActivityView::Daily } => {
                activity::answer(self, request, scope, shown).await
            }
            Report::Activity { scope, view: ActivityView::Heatmap } => {
                activity::heatmap(self, request, scope, shown).await
            }
            Report::Growth { scope } => insights::growth_reply(self, request, scope, shown).await,
            Report::Retention { weeks } => {
                insights::retention_reply(self, request, weeks, shown).await
            }
            Report::Export => export::answer(self, request, shown).await,
            Report::Digest { frequency } => digest::digest(self, request, frequency, shown).await,
        }
    }

    /// The guild's counters over the period, as one tally, without what `shown` hides (`keep`: a member
    /// whose own counters stay).
    async fn totals(
        &self,
        guild: GuildId,
        period: &ReportPeriod,
        shown: &Shown,
        keep: Option<UserId>,
    ) -> Result<Tally, AnswerError> {
        match period.range {
            Some(range) => self.range_totals(guild, range, shown, keep).await,
            None => {
                let mut tally =
                    self.reader.load_all_time(guild).await.map_err(AnswerError::read)?;
                visibility::hide(&mut tally, shown, keep);
                Ok(tally)
            }
        }
    }

    /// The guild's counters over a range of days, as one tally, without what `shown` hides.
    async fn range_totals(
        &self,
        guild: GuildId,
        range: DayRange,
        shown: &Shown,
        keep: Option<UserId>,
    ) -> Result<Tally, AnswerError> {
        let mut tally = self.reader.load_total(guild, range).await.map_err(AnswerError::read)?;
        visibility::hide(&mut tally, shown, keep);
        Ok(tally)
    }

    /// Hands the guild's counters over the period to `each` (all of them, or `read` messages only),
    /// day by day in order, without what `shown` hides; days left empty are skipped. One day is held
    /// in memory at a time, however long the period. Returns the days covered: the period's range (for
    /// all time, from the first day with counters to today, at most [`ReportPeriod::all_days`]), or
    /// `None` when nothing was counted.
    async fn each_day(
        &self,
        guild: GuildId,
        (period, read): (&ReportPeriod, DayRead),
        shown: &Shown,
        mut each: impl FnMut(Day, Tally) -> ControlFlow<()> + Send,
    ) -> Result<Option<DayRange>, AnswerError> {
        let range = period.range.unwrap_or_else(|| period.all_days());
        let mut first = None;
        let hand = |day, mut tally: Tally| {
            visibility::hide(&mut tally, shown, None);
            if tally.is_empty() {
                return ControlFlow::Continue(());
            }
            first.get_or_insert(day);
            each(day, tally)
        };
        match read {
            DayRead::Summaries => self.reader.scan_days(guild, range, hand).await,
            DayRead::Messages => self.reader.scan_activity(guild, range, hand).await,
        }
        .map_err(AnswerError::read)?;
        Ok(first.map(|first| match period.range {
            Some(range) => range,
            None => DayRange { first, last: range.last },
        }))
    }
}

/// What [`Reporter::each_day`] reads of each day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayRead {
    /// The day summaries: every counter, reactions included.
    Summaries,
    /// The day activity: messages per channel and member, a fraction of the summaries' size.
    Messages,
}

impl Report {
    /// The channel or category the report is limited to, if any.
    #[must_use]
    pub const fn channel_scope(&self) -> Option<Scope> {
        match *self {
            Self::ChannelStats { scope }
            | Self::Leaderboard { scope, .. }
            | Self::Activity { scope, .. }
            | Self::Growth { scope } => Some(scope),
            Self::Stats { .. } | Self::Retention { .. } | Self::Export | Self::Digest { .. } => {
                None
            }
        }
    }
}

/// The counting channel of a scope (not a category, not the guild).
const fn scope_channel(scope: Scope) -> Option<engagement_domain::ChannelId> {
    match scope {
        Scope::Channel(channel) => Some(channel),
        Scope::Guild | Scope::Category(_) => None,
    }
}

/// Refuses a report about a channel that is excluded from counting.
///
/// # Errors
/// [`AnswerError::User`] explaining the exclusion.
pub fn check_counted(
    config: &GuildConfig,
    channel: engagement_domain::ChannelId,
) -> Result<(), AnswerError> {
    if config.counts_channel(channel) {
        Ok(())
    } else {
        Err(AnswerError::user(format!(
            "{} is excluded from counting in this server, so there is nothing to show for it. An admin can \
             count it again with `/engagement-config include`.",
            format::channel(channel)
        )))
    }
}

/// Refuses a period in which nothing at all was counted in the guild.
fn ensure_counted(empty: bool, period: &ReportPeriod) -> Result<(), AnswerError> {
    if empty { Err(nothing_counted(period)) } else { Ok(()) }
}

/// "Nothing was counted" for the period.
fn nothing_counted(period: &ReportPeriod) -> AnswerError {
    AnswerError::user(match period.range {
        None => {
            "Nothing has been counted in this server yet. The first sync may still be running: try \
                 again in a few minutes."
                .to_owned()
        }
        Some(_) => format!(
            "There is no data for that range: nothing was counted in this server {}. Try a more recent \
             period, or `all` for everything counted so far.",
            period.phrase()
        ),
    })
}

/// Refuses a scope in which nothing was counted in the period (the guild has data).
fn nothing_in(scope: Scope, period: &ReportPeriod) -> AnswerError {
    AnswerError::user(format!("Nothing was counted in {} {}.", ScopeName(scope), period.phrase()))
}

/// The embed footer of reports by hour: which time zone the days and hours are in.
fn hours_footer(period: &ReportPeriod) -> String {
    format!("Days and hours in {} · discord-engagement", period.time_zone)
}

/// `text` with its first letter upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The embed footer: which time zone the days are in.
fn footer(period: &ReportPeriod) -> String {
    format!("Days in {} · discord-engagement", period.time_zone)
}

/// What a reply draws (read only where the `chart` feature renders it).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "chart"), allow(dead_code))]
enum Drawing<'a> {
    /// The daily chart.
    Daily(&'a [activity::DayActivity]),
    /// The hour-of-week heatmap.
    Heatmap(&'a [[i64; 24]; 7]),
    /// DAU, WAU, MAU and new members per day.
    Growth(&'a [engagement_domain::DayFigures]),
    /// The retention table.
    Retention(&'a [engagement_domain::Cohort]),
}

/// The reply: `embed` with the drawing attached under `caption`.
#[cfg(feature = "chart")]
fn with_chart(embed: EmbedDraft, caption: &str, drawing: Drawing) -> Result<Reply, AnswerError> {
    let (file, png) = match drawing {
        Drawing::Daily(series) => {
            (activity::CHART_FILE, crate::chart::activity_png(caption, series))
        }
        Drawing::Heatmap(grid) => {
            (activity::HEATMAP_FILE, crate::chart::heatmap_png(caption, grid))
        }
        Drawing::Growth(days) => (insights::GROWTH_FILE, crate::chart::growth_png(caption, days)),
        Drawing::Retention(cohorts) => {
            (insights::RETENTION_FILE, crate::chart::retention_png(caption, cohorts))
        }
    };
    let png = png.map_err(|e| AnswerError::Chart(e.to_string()))?;
    let mut reply = Reply::embed(embed.attached_image(file).build());
    reply.files.push(crate::reply::ReplyFile {
        filename: file.to_owned(),
        content_type: "image/png".to_owned(),
        data: png,
    });
    Ok(reply)
}

/// Without the renderer (the interactions function, which always defers charts): the embed alone.
#[cfg(not(feature = "chart"))]
fn with_chart(embed: EmbedDraft, _caption: &str, _drawing: Drawing) -> Result<Reply, AnswerError> {
    Ok(Reply::embed(embed.build()))
}
