//! The web dashboard, as a Lambda function behind its own function URL: "Log in with Discord", then the
//! servers the viewer shares with the bot, each as server-rendered pages with charts drawn as inline SVG.
//!
//! [`Dashboard::handle`] takes one HTTP request and the time and returns the response (see [`app`] for
//! the routes and the checks). The login is OAuth2's authorization code grant with `state` and PKCE
//! ([`engagement_discord::oauth`]); the session is a signed cookie ([`session`]); who may see what is
//! decided per request ([`viewer`]) by the slash commands' rules, and the numbers come from the same
//! report code as the commands ([`engagement_commands::report::overview`]).
//!
//! `main.rs` only wires logging, [`DashboardSettings::from_env`], the clients and the Lambda runtime.

pub mod app;
pub mod pages;
pub mod session;
pub mod settings;
pub mod svg;
pub mod viewer;

pub use app::Dashboard;
pub use settings::DashboardSettings;
