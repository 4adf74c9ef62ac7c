//! `engagement actions`: applies a guild's activity roles now (every rule, due or not), or with
//! `--dry-run` prints who would gain and lose each role, changing nothing. The same code as the sync
//! function's actions after a guild's sync.
//!
//! Prints one JSON object per rule.

use std::io::Write as _;

use engagement_actions::{RoleRun, RuleStatus};
use engagement_domain::{GuildConfig, GuildId};
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
    Ok(())
}

fn ids(members: &[engagement_domain::UserId]) -> Vec<String> {
    members.iter().map(ToString::to_string).collect()
}
