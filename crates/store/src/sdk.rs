//! AWS SDK clients made on first use. A function whose first request may need no AWS call at all (the
//! interactions endpoint answering a PING) does not load the SDK configuration — credentials, region,
//! the HTTPS connector — before its first poll; the first request that needs a client pays once, and
//! later ones reuse it.

use std::fmt;
use std::sync::Arc;

use aws_config::{ConfigLoader, SdkConfig};
use tokio::sync::OnceCell;

/// An SDK configuration loaded on first use and then shared by every client made from it.
#[derive(Clone)]
pub struct LazySdk {
    config: Arc<OnceCell<SdkConfig>>,
    loader: Arc<dyn Fn() -> ConfigLoader + Send + Sync>,
}

impl LazySdk {
    /// A configuration that `loader` loads on first use (for example `engagement_store::sdk_defaults`
    /// with the function's timeouts).
    #[must_use]
    pub fn new(loader: impl Fn() -> ConfigLoader + Send + Sync + 'static) -> Self {
        Self { config: Arc::new(OnceCell::new()), loader: Arc::new(loader) }
    }

    /// The configuration, loaded now if it was not yet.
    pub async fn get(&self) -> &SdkConfig {
        self.config.get_or_init(|| (self.loader)().load()).await
    }

    /// Whether it was loaded.
    #[must_use]
    pub fn is_loaded(&self) -> bool {
        self.config.initialized()
    }
}

impl fmt::Debug for LazySdk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazySdk").field("loaded", &self.is_loaded()).finish()
    }
}

/// An SDK client: given, or made from a [`LazySdk`] on first use.
pub struct SdkClient<C>(Inner<C>);

enum Inner<C> {
    Ready(C),
    Lazy { sdk: LazySdk, make: fn(&SdkConfig) -> C, client: OnceCell<C> },
}

impl<C> SdkClient<C> {
    /// A client made already.
    #[must_use]
    pub const fn ready(client: C) -> Self {
        Self(Inner::Ready(client))
    }

    /// A client `make` makes from `sdk` when it is first needed (`aws_sdk_dynamodb::Client::new`, …).
    #[must_use]
    pub const fn lazy(sdk: LazySdk, make: fn(&SdkConfig) -> C) -> Self {
        Self(Inner::Lazy { sdk, make, client: OnceCell::const_new() })
    }

    /// The client, made now if it was not yet.
    pub async fn get(&self) -> &C {
        match &self.0 {
            Inner::Ready(client) => client,
            Inner::Lazy { sdk, make, client } => {
                client.get_or_init(|| async { make(sdk.get().await) }).await
            }
        }
    }
}

impl<C> fmt::Debug for SdkClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Ready(_) => f.write_str("SdkClient(ready)"),
            Inner::Lazy { client, .. } => {
                f.debug_struct("SdkClient").field("made", &client.initialized()).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lazy_client_loads_the_configuration_once_on_first_use() {
        let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&loads);
        let sdk = LazySdk::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .no_credentials()
        });
        let client = SdkClient::lazy(sdk.clone(), |c| c.region().map(ToString::to_string));
        assert!(!sdk.is_loaded(), "nothing loaded before the first use");
        assert_eq!(client.get().await.as_deref(), Some("us-east-1"));
        assert_eq!(client.get().await.as_deref(), Some("us-east-1"));
        let other = SdkClient::lazy(sdk.clone(), |c| c.region().is_some());
        assert!(*other.get().await);
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1, "one load, shared");
    }
}
