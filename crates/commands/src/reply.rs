//! Replies: the message a command answers with, the same whether it is the immediate interaction response
//! or the later edit of a deferred one.

use std::fmt;

use twilight_model::channel::message::AllowedMentions;
use twilight_model::channel::message::embed::{Embed, EmbedField, EmbedFooter, EmbedImage};
use twilight_model::http::interaction::InteractionResponseData;

/// The embeds' colour (Discord blurple).
pub const COLOR: u32 = 0x0058_65F2;

/// `allowed_mentions: {"parse": []}`: the reply may show `<@id>` and `<#id>` mentions, but pings nobody.
#[must_use]
pub fn no_mentions() -> AllowedMentions {
    AllowedMentions::default()
}

/// A file attached to a reply.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyFile {
    /// Name shown in Discord, also how an embed refers to it (`attachment://NAME`).
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for ReplyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyFile")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// What a command answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// Plain text, if any.
    pub content: Option<String>,
    /// Embeds.
    pub embeds: Vec<Embed>,
    /// Attachments (only on edits of deferred replies: the interaction response itself is JSON only).
    pub files: Vec<ReplyFile>,
}

impl Reply {
    /// A text-only reply.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// A reply with one embed.
    #[must_use]
    pub fn embed(embed: Embed) -> Self {
        Self { embeds: vec![embed], ..Self::default() }
    }

    /// The message JSON: content, embeds and [`no_mentions`]; no flags (the caller decides visibility).
    #[must_use]
    pub fn message(&self) -> InteractionResponseData {
        InteractionResponseData {
            allowed_mentions: Some(no_mentions()),
            content: self.content.clone(),
            embeds: (!self.embeds.is_empty()).then(|| self.embeds.clone()),
            ..InteractionResponseData::default()
        }
    }
}

/// Builds an [`Embed`] (twilight's struct has many fields a reply never sets).
#[derive(Clone, Debug)]
pub struct EmbedDraft {
    embed: Embed,
}

impl EmbedDraft {
    /// An embed with a title, in [`COLOR`].
    #[must_use]
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            embed: Embed {
                author: None,
                color: Some(COLOR),
                description: None,
                fields: Vec::new(),
                flags: None,
                footer: None,
                image: None,
                kind: "rich".to_owned(),
                provider: None,
                thumbnail: None,
                timestamp: None,
                title: Some(truncate(title.into(), 256)),
                url: None,
                video: None,
            },
        }
    }

    /// Sets the description (at most 4096 characters; longer text is cut).
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.embed.description = Some(truncate(text.into(), 4096));
        self
    }

    /// Adds a field (name at most 256 characters, value at most 1024).
    #[must_use]
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        let value = value.into();
        self.embed.fields.push(EmbedField {
            inline,
            name: truncate(name.into(), 256),
            value: truncate(if value.is_empty() { "—".to_owned() } else { value }, 1024),
        });
        self
    }

    /// Sets the footer.
    #[must_use]
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.embed.footer = Some(EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text: truncate(text.into(), 2048),
        });
        self
    }

    /// Shows an attached image (`attachment://FILENAME`).
    #[must_use]
    pub fn attached_image(mut self, filename: &str) -> Self {
        self.embed.image = Some(EmbedImage {
            height: None,
            proxy_url: None,
            url: format!("attachment://{filename}"),
            width: None,
            content_type: None,
            placeholder: None,
            placeholder_version: None,
            flags: None,
        });
        self
    }

    /// The embed.
    #[must_use]
    pub fn build(self) -> Embed {
        self.embed
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
fn truncate(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_turns_pings_off() -> Result<(), serde_json::Error> {
        let reply = Reply::embed(EmbedDraft::new("Title").description("<@1> in <#2>").build());
        let json = serde_json::to_value(reply.message())?;
        assert_eq!(json["allowed_mentions"], serde_json::json!({"parse": []}));
        assert_eq!(json["embeds"][0]["title"], "Title");
        assert_eq!(json.get("flags"), None);
        Ok(())
    }

    #[test]
    fn long_texts_are_cut_to_discords_limits() {
        let embed = EmbedDraft::new("t").field("n", "x".repeat(2000), false).build();
        assert_eq!(embed.fields[0].value.chars().count(), 1024);
        assert!(embed.fields[0].value.ends_with('…'));
        let empty = EmbedDraft::new("t").field("n", "", true).build();
        assert_eq!(empty.fields[0].value, "—");
    }
}
