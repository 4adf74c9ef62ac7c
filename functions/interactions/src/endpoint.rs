//! The HTTP endpoint: method and size checks, signature verification, then the interaction itself.
//!
//! Order matters: nothing about the body is interpreted until its signature has been verified over the
//! exact bytes received.

use std::time::SystemTime;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use twilight_model::application::interaction::{Interaction, InteractionType};
use twilight_model::http::interaction::InteractionResponse;

use crate::handlers::{CommandContext, CommandRegistry};
use crate::lenient;
use crate::response;
use crate::settings::EndpointSettings;
use crate::signature::SignatureVerifier;

/// Why a request was not answered with an interaction response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a POST (405).
    #[error("method {0} not allowed")]
    Method(Method),
    /// Body over the configured limit (413).
    #[error("body of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Signature missing, malformed, stale or wrong (401).
    #[error("signature rejected: {0}")]
    Signature(#[from] crate::signature::SignatureError),
    /// Verified, but not an interaction this endpoint understands (400).
    #[error("invalid interaction: {0}")]
    Invalid(String),
}

impl Rejection {
    /// The HTTP status this rejection is answered with.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Just enough of an interaction to decide what to do with it.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: u8,
}

/// The interactions endpoint: its settings, the signature verifier and the command registry, built once.
#[derive(Debug)]
pub struct App {
    settings: EndpointSettings,
    verifier: SignatureVerifier,
    registry: CommandRegistry,
}

impl App {
    /// An endpoint answering with `registry`'s commands.
    #[must_use]
    pub fn new(settings: EndpointSettings, registry: CommandRegistry) -> Self {
        let verifier = SignatureVerifier::new(settings.public_key, settings.max_signature_age);
        let registry = registry.with_deadline(settings.command_deadline);
        Self { settings, verifier, registry }
    }

    /// The settings the endpoint runs with.
    #[must_use]
    pub const fn settings(&self) -> &EndpointSettings {
        &self.settings
    }

    /// The command registry.
    #[must_use]
    pub const fn registry(&self) -> &CommandRegistry {
        &self.registry
    }

    /// Answers one HTTP request received at `now`. Never fails: rejections are HTTP responses.
    pub async fn handle(&self, request: Request, now: SystemTime) -> Response<Body> {
        match self.answer(&request, now).await {
            Ok(reply) => response::ok(&reply),
            Err(rejection) => {
                let status = rejection.status();
                match &rejection {
                    Rejection::Signature(_) => tracing::warn!(%rejection, "rejected request"),
                    _ => tracing::info!(%rejection, status = status.as_u16(), "rejected request"),
                }
                response::rejection(status)
            }
        }
    }

    /// Checks `request` and computes the interaction response.
    ///
    /// # Errors
    /// A [`Rejection`] saying which HTTP error to answer.
    pub async fn answer(
        &self,
        request: &Request,
        now: SystemTime,
    ) -> Result<InteractionResponse, Rejection> {
        if request.method() != Method::POST {
            return Err(Rejection::Method(request.method().clone()));
        }
        // `Body::Binary` holds the decoded bytes of a base64 event, `Body::Text` the UTF-8 of a text event:
        // either way these are the bytes Discord signed.
        let body: &[u8] = request.body().as_ref();
        if body.len() > self.settings.max_body_bytes {
            return Err(Rejection::TooLarge {
                size: body.len(),
                limit: self.settings.max_body_bytes,
            });
        }
        self.verifier.verify_headers(request.headers(), body, now)?;
        tracing::debug!(body = %engagement_startup::logging::redacted_json(body), "verified request");
        self.interact(body, now).await
    }

    /// Answers a verified interaction body.
    async fn interact(
        &self,
        body: &[u8],
        now: SystemTime,
    ) -> Result<InteractionResponse, Rejection> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(invalid_json)?;
        // PING is answered from the envelope alone, so the endpoint check passes whatever else Discord
        // puts in (or leaves out of) a PING.
        if envelope.kind == 1 {
            tracing::info!("ping");
            return Ok(response::pong());
        }
        let mut value: serde_json::Value = serde_json::from_slice(body).map_err(invalid_json)?;
        lenient::fill_unneeded_fields(&mut value);
        let interaction = Interaction::deserialize(value).map_err(invalid_json)?;
        match interaction.kind {
            InteractionType::ApplicationCommand => {
                let ctx = CommandContext::new(interaction, now)
                    .map_err(|e| Rejection::Invalid(e.to_string()))?;
                tracing::info!(
                    command = %ctx.route(),
                    guild_id = ctx.guild_id().map(|id| id.get()),
                    user_id = ctx.user().map(|u| u.id.get()),
                    "command"
                );
                Ok(self.registry.dispatch(&ctx).await)
            }
            InteractionType::ApplicationCommandAutocomplete => Ok(response::no_choices()),
            InteractionType::MessageComponent | InteractionType::ModalSubmit => {
                tracing::info!(kind = interaction.kind.kind(), "unsupported interaction");
                Ok(response::ephemeral_message("This button or form is no longer supported."))
            }
            other => {
                Err(Rejection::Invalid(format!("unsupported interaction type {}", other.kind())))
            }
        }
    }
}

/// A [`Rejection::Invalid`] for a body serde could not read. The log says which field failed (serde names
/// a missing field; a value it quotes is never the token, which is a string wherever it is valid); the
/// answer keeps only the category and position.
fn invalid_json(error: serde_json::Error) -> Rejection {
    tracing::warn!(%error, "signed body is not a readable interaction");
    Rejection::Invalid(format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    ))
}
