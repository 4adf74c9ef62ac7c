//! Liberal in what we accept from Discord, where safety allows.
//!
//! twilight-model's `Interaction` requires fields that Discord has added over time or omits in some
//! payloads (`attachment_size_limit`, `authorizing_integration_owners`, a member's `deaf`/`mute`/`flags`,
//! a user's `discriminator`, …). A validly signed body that lacks them is completed with neutral defaults
//! before it is read. Where a default does matter it fails closed: a member without `roles` is taken to
//! have none beyond `@everyone`, so an ephemeral reply shows them no more than a public one would. What an answer *does* need — `id`,
//! `application_id`, `token`, `type`, the command `data`, ids of the guild, member and user — is never
//! invented: its absence still makes the body unreadable (400).

use serde_json::{Map, Value, json};

/// Discord's attachment limit for a server without boosts (bytes): what an export assumes when the
/// interaction does not say.
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// Completes a verified interaction body with defaults for the fields no answer depends on. Fields that
/// are present are never changed.
pub fn fill_unneeded_fields(body: &mut Value) {
    let Some(root) = body.as_object_mut() else { return };
    default(root, "attachment_size_limit", json!(DEFAULT_ATTACHMENT_SIZE_LIMIT));
    default(root, "authorizing_integration_owners", json!({}));
    default(root, "entitlements", json!([]));
    if let Some(member) = root.get_mut("member").and_then(Value::as_object_mut) {
        member_defaults(member);
    }
    if let Some(user) = root.get_mut("user").and_then(Value::as_object_mut) {
        user_defaults(user);
    }
    // Users and members a command option resolved (`/stats member:@someone`).
    if let Some(resolved) =
        root.get_mut("data").and_then(|d| d.get_mut("resolved")).and_then(Value::as_object_mut)
    {
        for user in objects_in(resolved, "users") {
            user_defaults(user);
        }
        // Roles a `role` option resolved: only their id is read here (whether the bot may manage one is
        // checked against the guild's roles as Discord lists them), and `managed` defaults to false so
        // that check decides. `colors` is newer than many payloads.
        for role in objects_in(resolved, "roles") {
            let color = role.get("color").cloned().unwrap_or(json!(0));
            for (key, value) in [
                (
                    "colors",
                    json!({"primary_color": color, "secondary_color": null, "tertiary_color": null}),
                ),
                ("color", json!(0)),
                ("hoist", json!(false)),
                ("managed", json!(false)),
                ("mentionable", json!(false)),
                ("name", json!("")),
                ("permissions", json!("0")),
                ("position", json!(0)),
                ("flags", json!(0)),
            ] {
                default(role, key, value);
            }
        }
        for member in objects_in(resolved, "members") {
            // Resolved members carry no `user` (it is in `users`): only the member's own fields.
            for (key, value) in member_fields() {
                default(member, key, value);
            }
        }
    }
}

fn member_fields() -> [(&'static str, Value); 4] {
    [("deaf", json!(false)), ("mute", json!(false)), ("flags", json!(0)), ("roles", json!([]))]
}

fn member_defaults(member: &mut Map<String, Value>) {
    for (key, value) in member_fields() {
        default(member, key, value);
    }
    if let Some(user) = member.get_mut("user").and_then(Value::as_object_mut) {
        user_defaults(user);
    }
}

fn user_defaults(user: &mut Map<String, Value>) {
    // Usernames are shown as mentions (`<@id>`), never by name; "0" is Discord's discriminator for
    // every account since the username migration.
    default(user, "username", json!(""));
    default(user, "discriminator", json!("0"));
}

fn objects_in<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    parent
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|map| map.values_mut().filter_map(Value::as_object_mut))
}

fn default(object: &mut Map<String, Value>, key: &str, value: Value) {
    if !object.contains_key(key) {
        object.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_get_defaults_and_present_ones_are_kept() {
        let mut body = json!({
            "type": 2, "id": "1", "application_id": "2", "token": "t",
            "attachment_size_limit": 25,
            "member": {"user": {"id": "3"}, "permissions": "0", "mute": true},
            "data": {"id": "4", "name": "stats", "type": 1, "resolved": {
                "users": {"5": {"id": "5", "username": "kept"}},
                "members": {"5": {"permissions": "0"}},
                "roles": {"6": {"id": "6", "color": 7, "managed": true}}
            }}
        });
        fill_unneeded_fields(&mut body);
        assert_eq!(body["attachment_size_limit"], 25);
        assert_eq!(body["authorizing_integration_owners"], json!({}));
        assert_eq!(body["entitlements"], json!([]));
        assert_eq!(body["member"]["mute"], true);
        assert_eq!(body["member"]["deaf"], false);
        assert_eq!(body["member"]["roles"], json!([]));
        assert_eq!(body["member"]["user"]["discriminator"], "0");
        assert_eq!(body["data"]["resolved"]["users"]["5"]["username"], "kept");
        assert_eq!(body["data"]["resolved"]["users"]["5"]["discriminator"], "0");
        assert_eq!(body["data"]["resolved"]["members"]["5"]["flags"], 0);
        assert_eq!(body["data"]["resolved"]["roles"]["6"]["colors"]["primary_color"], 7);
        assert_eq!(body["data"]["resolved"]["roles"]["6"]["managed"], true);
        assert_eq!(body["data"]["resolved"]["roles"]["6"]["hoist"], false);
        // Nothing an answer needs is invented.
        let mut bare = json!({"type": 2});
        fill_unneeded_fields(&mut bare);
        for needed in ["id", "application_id", "token", "data", "guild_id", "member", "user"] {
            assert!(bare.get(needed).is_none(), "{needed} was invented");
        }
    }
}
