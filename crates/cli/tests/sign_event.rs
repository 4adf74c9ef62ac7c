//! `engagement sign-event`, run as a process on copies of the files in `events/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};
use engagement_testkit::{events, signing};

/// A fresh, empty directory under the system temp dir.
fn temp_dir(name: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    let dir =
        std::env::temp_dir().join(format!("engagement-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn sign_event(args: &[&str], files: &[&Path]) -> anyhow::Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_engagement"))
        .arg("sign-event")
        .args(args)
        .args(files)
        .output()
        .context("running engagement")?;
    ensure!(
        output.status.success(),
        "sign-event failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

fn load(path: &Path) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

#[test]
fn re_signing_an_event_in_place_sets_both_headers() -> anyhow::Result<()> {
    let dir = temp_dir("in-place")?;
    let file = dir.join("ping.json");
    std::fs::copy(events::event_path("interactions-ping"), &file)?;
    let stdout = sign_event(&["--timestamp", "1700000000"], &[&file])?;
    ensure!(stdout.contains("signed"), "{stdout}");
    let event = load(&file)?;
    ensure!(events::event_timestamp(&event)? == 1_700_000_000);
    let body = events::event_body(&event)?;
    let expected = signing::sign(&signing::dev_signing_key(), "1700000000", &body);
    ensure!(events::event_header(&event, events::SIGNATURE_HEADER) == Some(expected.as_str()));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn out_dir_leaves_the_source_alone_and_wrong_key_signs_with_another_key() -> anyhow::Result<()> {
    let dir = temp_dir("out-dir")?;
    let source = dir.join("ping.json");
    std::fs::copy(events::event_path("interactions-ping"), &source)?;
    let before = std::fs::read(&source)?;
    let out = dir.join("out");
    let out_arg = out.display().to_string();
    sign_event(&["--wrong-key", "--timestamp", "1700000000", "--out-dir", &out_arg], &[&source])?;
    ensure!(std::fs::read(&source)? == before, "the source file changed");
    let event = load(&out.join("ping.json"))?;
    let body = events::event_body(&event)?;
    let genuine = signing::sign(&signing::dev_signing_key(), "1700000000", &body);
    let forged = signing::sign(&signing::wrong_signing_key(), "1700000000", &body);
    let sent = events::event_header(&event, events::SIGNATURE_HEADER);
    ensure!(sent == Some(forged.as_str()) && sent != Some(genuine.as_str()), "{sent:?}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// The committed files are exactly what `sign-event` writes: re-signing at their own timestamp (with the
/// wrong key for the bad-signature event) reproduces them byte for byte.
#[test]
fn the_committed_events_are_what_sign_event_produces() -> anyhow::Result<()> {
    let dir = temp_dir("committed")?;
    let mut checked = 0;
    for entry in std::fs::read_dir(events::events_dir())? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.starts_with("interactions-") || !name.ends_with(".json") {
            continue;
        }
        let timestamp = events::event_timestamp(&load(&path)?)?.to_string();
        let mut args = vec!["--timestamp", timestamp.as_str()];
        if name.contains("bad-signature") {
            args.push("--wrong-key");
        }
        let out_arg = dir.display().to_string();
        args.extend(["--out-dir", out_arg.as_str()]);
        sign_event(&args, &[&path])?;
        ensure!(
            std::fs::read(dir.join(&name))? == std::fs::read(&path)?,
            "{name} is not as `engagement sign-event` writes it: re-sign it"
        );
        checked += 1;
    }
    ensure!(checked >= 4, "only {checked} events checked");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
