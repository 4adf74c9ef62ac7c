//! What the dashboard's integration tests share: a small world of two guilds in the fake Discord,
//! synced once into moto, and the dashboard over it, configured as `main.rs` configures it.

use std::time::Duration;

use dashboard::session::SessionKey;
use dashboard::{Dashboard, DashboardSettings};
use engagement_discord::oauth::OAuthConfig;
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::GuildTimeZone;
use engagement_store::CounterStore;
use fake_discord::config::{WorldKnobs, WorldSize};
use fake_discord::{FakeConfig, FakeDiscord};
use sync::{SyncSettings, Syncer};

/// The synced world and the dashboard at `public_url`.
pub struct Synced {
    pub fake: FakeDiscord,
    // Each test binary compiles this module; the browser test does not read the store.
    #[allow(dead_code)]
    pub store: CounterStore,
    pub app: Dashboard,
    /// The fake's clock at the sync, as Unix ms: the dashboard's "now".
    pub now_ms: u64,
}

/// Two small guilds (the second for someone who is not in the first), synced into the table `name`,
/// and the dashboard at `public_url` logging in through the fake's OAuth2 provider.
pub async fn synced_dashboard(name: &str, public_url: &str) -> anyhow::Result<Synced> {
    let size = WorldSize::Custom(WorldKnobs { guilds: 2, ..WorldSize::Small.knobs() });
    let fake = FakeDiscord::start(FakeConfig { seed: 3, size, ..FakeConfig::default() }).await?;
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(name).await?;
    let store = CounterStore::new(client, table.clone());
    store.create_table().await?;
    let discord =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
    let settings = SyncSettings {
        first_sight_lookback: Duration::from_secs(400 * 24 * 3600),
        fixed_now: Some(fake.clock()),
        ..SyncSettings::default()
    };
    Syncer { store: store.clone(), discord, settings }.sync_all(Duration::from_secs(600)).await?;
    let mut oauth =
        OAuthConfig::new(fake.application_id(), fake.client_secret(), Some(fake.base_url()));
    oauth.authorize_url = fake.authorize_url();
    oauth.token_url = fake.token_url();
    let settings = DashboardSettings {
        oauth,
        discord: dashboard::settings::for_pages(
            DiscordConfig::new(fake.token()).with_api_base(fake.base_url()),
        ),
        session_key: SessionKey::new(vec![7; 32]).map_err(anyhow::Error::msg)?,
        public_url: Some(public_url.to_owned()),
        table_name: table,
        default_time_zone: GuildTimeZone::default(),
    };
    let now_ms = u64::try_from(fake.clock().timestamp_millis())?;
    // The dashboard's own client, as main.rs makes it.
    let discord = DiscordClient::new(settings.discord.clone())?;
    let app = Dashboard::new(settings, discord, store.clone())?;
    Ok(Synced { fake, store, app, now_ms })
}
