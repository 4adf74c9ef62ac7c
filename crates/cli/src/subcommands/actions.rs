//! `engagement actions`: applies a guild's activity roles now (every rule, due or not) and posts its
//! latest digest if it was not posted (even one due before the digest was set); with `--dry-run`
//! prints who would gain and lose each role and the digest that would be posted, changing nothing.
//! The same code as the sync function's actions after a guild's sync.
//!
//! Prints one JSON object per rule, then one for the digest.

use std::io::Write as _;

use engagement_actions::{DigestOutcome, DigestRun, RoleRun, RuleStatus};
use engagement_commands::Reporter;
use engagement_commands::report::digest;
use engagement_domain::{Audience, GuildConfig, GuildId};
use engagement_startup::Env;
use serde_json::json;

/// Arguments of `engagement actions`. Configuration comes from the environment, as for `engagement sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guild (server) id.
    #[arg(long)]
    pub guild: GuildId,
    /// Print what would change, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `engagement actions`.
///
/// # Errors
/// When configuration is missing, or DynamoDB or Discord fail.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let env = Env::process();
    let store = super::store(&env).await?;
    let discord = super::discord(&env)?;
    let default_time_zone = env.default_time_zone()?;
    let config = store
        .guild_config(args.guild)
        .await?
        .unwrap_or_else(|| GuildConfig { time_zone: default_time_zone, ..GuildConfig::default() });
    let run = RoleRun::new(&store, &discord, chrono::Utc::now(), None, true);
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        for rule in &config.activity_roles {
            let preview = run.preview(args.guild, &config, rule).await?;
            let line = json!({
                "role_id": rule.role.to_string(),
                "rule": rule.describe(),
                "would_gain": ids(&preview.plan.gain),
                "would_lose": ids(&preview.plan.lose),
                "given_by_bot": preview.given,
                "problem": preview.problem,
            });
            writeln!(out, "{line}")?;
        }
        if let Some(schedule) = config.digest {
            let now = chrono::Utc::now();
            let state = store.digest_state(args.guild).await?;
            let due = schedule.latest_due(now, config.time_zone);
            // As `engagement actions` would: not when it (or a later one) was posted or started.
            let done = state.due.is_some_and(|started| started > due)
                || (state.due == Some(due) && state.message_id.is_some());
            let mut line = json!({
                "digest": schedule.to_string(),
                "due": due.to_string(),
                "would_post": !done,
            });
            if !done {
                let request = digest::request(
                    args.guild,
                    engagement_domain::UserId(0),
                    &schedule,
                    due,
                    config.time_zone,
                    now,
                );
                let reply = Reporter::new(store.clone())
                    .answer(&request, &config, &Audience::Public)
                    .await?;
                line["post"] = serde_json::to_value(reply.message())?;
            }
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    for outcome in run.apply_guild(args.guild, &config).await? {
        let (status, detail) = match &outcome.status {
            RuleStatus::NotDue => ("not_due", None),
            RuleStatus::Done => ("done", None),
            RuleStatus::Refused(reason) => ("refused", Some(reason.clone())),
            RuleStatus::OutOfTime => ("out_of_time", None),
            RuleStatus::Busy => ("busy", None),
            RuleStatus::Failed(error) => ("failed", Some(error.clone())),
        };
        let line = json!({
            "role_id": outcome.rule.role.to_string(),
            "rule": outcome.rule.describe(),
            "status": status,
            "detail": detail,
            "gained": ids(&outcome.gained),
            "lost": ids(&outcome.lost),
            "held_already": outcome.held_already,
            "left": outcome.left,
        });
        writeln!(out, "{line}")?;
    }
    if config.digest.is_some() {
        let outcome = DigestRun::new(&store, &discord, chrono::Utc::now(), true)
            .post_due(args.guild, &config)
            .await?;
        let (status, detail) = match outcome {
            DigestOutcome::NotSet => ("not_set", None),
            DigestOutcome::NotDue => ("not_due", None),
            DigestOutcome::Posted(id) => ("posted", Some(id.to_string())),
            DigestOutcome::Recovered(id) => ("recovered", Some(id.to_string())),
            DigestOutcome::Busy => ("busy", None),
            DigestOutcome::Waiting => ("waiting_for_a_complete_sync", None),
            DigestOutcome::Refused(reason) => ("refused", Some(reason)),
            DigestOutcome::Failed(error) => ("failed", Some(error)),
        };
        writeln!(out, "{}", json!({"digest": status, "detail": detail}))?;
    }
    Ok(())
}

fn ids(members: &[engagement_domain::UserId]) -> Vec<String> {
    members.iter().map(ToString::to_string).collect()
}
