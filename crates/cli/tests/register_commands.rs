//! `engagement register-commands`, run as a process against the fake Discord: the bulk overwrite it sends
//! is what the fake records, globally and per guild.

use std::collections::BTreeSet;

use anyhow::{Context as _, ensure};
use engagement_commands::definition::{MANAGE_GUILD, definitions, name};
use fake_discord::{CommandScope, FakeConfig, FakeDiscord, WorldSize};

async fn register(fake: &FakeDiscord, args: &[&str]) -> anyhow::Result<std::process::Output> {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_engagement"))
        .arg("register-commands")
        .args(args)
        .env("DISCORD_APPLICATION_ID", fake.application_id().to_string())
        .env("DISCORD_BOT_TOKEN", fake.token())
        .env("DISCORD_API_BASE", fake.base_url())
        .output()
        .await
        .context("running engagement")
}

fn names(commands: &[serde_json::Value]) -> BTreeSet<String> {
    commands.iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn commands_are_registered_globally_and_per_guild() -> anyhow::Result<()> {
    let fake =
        FakeDiscord::start(FakeConfig { size: WorldSize::Small, ..FakeConfig::default() }).await?;
    let expected: BTreeSet<String> = definitions().into_iter().map(|c| c.name).collect();

    let output = register(&fake, &[]).await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    ensure!(
        stdout.contains(&format!("{} commands registered globally", expected.len())),
        "{stdout}"
    );
    let global =
        fake.commands(CommandScope::Global).context("no global bulk overwrite recorded")?;
    ensure!(names(&global) == expected, "{:?}", names(&global));
    // Admin commands are shown to server managers only; `/engagement` (privacy) to everyone.
    let manage_guild = MANAGE_GUILD.bits().to_string();
    for admin in [name::EXPORT, name::ENGAGEMENT_CONFIG] {
        let command = global.iter().find(|c| c["name"] == admin).context(admin)?;
        ensure!(command["default_member_permissions"] == manage_guild, "{command}");
    }
    let engagement =
        global.iter().find(|c| c["name"] == name::ENGAGEMENT).context("no /engagement")?;
    ensure!(engagement["default_member_permissions"].is_null(), "{engagement}");
    let config = global
        .iter()
        .find(|c| c["name"] == name::ENGAGEMENT_CONFIG)
        .context("no /engagement-config")?;
    let subcommands: Vec<&str> = config["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["type"] == 1)
        .filter_map(|o| o["name"].as_str())
        .collect();
    ensure!(subcommands == ["time-zone", "exclude", "include", "show"], "{subcommands:?}");
    let stats = global.iter().find(|c| c["name"] == name::STATS).context("no /stats")?;
    let options: Vec<&str> = stats["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    ensure!(options == ["member", "period", "from", "to"], "{options:?}");

    let guild = fake.with_world(|w| w.guilds.keys().next().copied()).context("no guild")?;
    let output = register(&fake, &["--guild", &guild.to_string()]).await?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let in_guild = fake.commands(CommandScope::Guild(guild)).context("no guild bulk overwrite")?;
    ensure!(names(&in_guild) == expected);
    let guild_text = guild.to_string();
    ensure!(in_guild.iter().all(|c| c["guild_id"].as_str() == Some(guild_text.as_str())));
    Ok(())
}

#[tokio::test]
async fn missing_settings_and_refusals_are_clear_errors() -> anyhow::Result<()> {
    let fake =
        FakeDiscord::start(FakeConfig { size: WorldSize::Small, ..FakeConfig::default() }).await?;
    // An unknown guild: Discord's error is shown.
    let output = register(&fake, &["--guild", "42"]).await?;
    ensure!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(stderr.contains("registering the commands in guild 42"), "{stderr}");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_engagement"))
        .arg("register-commands")
        .env_remove("DISCORD_APPLICATION_ID")
        .output()
        .await?;
    ensure!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(stderr.contains("DISCORD_APPLICATION_ID is not set"), "{stderr}");

    // --print needs nothing and prints the definitions.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_engagement"))
        .args(["register-commands", "--print"])
        .env_remove("DISCORD_APPLICATION_ID")
        .output()
        .await?;
    ensure!(output.status.success());
    let printed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)?;
    ensure!(printed.len() == definitions().len());
    Ok(())
}
