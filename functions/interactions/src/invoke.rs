//! Handing deferred work to the followup function: an asynchronous Lambda `Invoke`
//! (`InvocationType::Event`).
//!
//! AWS accepts an Event invocation with 202 at once and runs the function later. The local emulator
//! (`cargo lambda watch`, reached with `AWS_ENDPOINT_URL_LAMBDA`) answers only after running it, which can
//! take longer than Discord's 3 seconds (the first call even builds the function). So the invoker waits at
//! most [`DEFAULT_ACK_WAIT`] for the acknowledgement: an error within that time is reported (the user gets a
//! message instead of an endless "thinking…"); no answer yet means the invocation was sent and is running.

use std::time::Duration;

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use engagement_commands::job::InvokeFuture;
use engagement_commands::{FollowupInvoker, FollowupJob, InvokeError};
use engagement_store::{LazySdk, SdkClient};

/// How long to wait for Lambda to accept the invocation.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_millis(1_500);

/// Invokes the followup function asynchronously.
#[derive(Clone, Debug)]
pub struct LambdaInvoker {
    client: Arc<SdkClient<aws_sdk_lambda::Client>>,
    function: String,
    ack_wait: Duration,
}

impl LambdaInvoker {
    /// An invoker of `function` (a name or ARN).
    #[must_use]
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self::with_client(SdkClient::ready(client), function)
    }

    /// An invoker of `function` whose client is made from `sdk` on the first deferred command.
    #[must_use]
    pub fn lazy(sdk: LazySdk, function: impl Into<String>) -> Self {
        Self::with_client(SdkClient::lazy(sdk, aws_sdk_lambda::Client::new), function)
    }

    fn with_client(client: SdkClient<aws_sdk_lambda::Client>, function: impl Into<String>) -> Self {
        Self { client: Arc::new(client), function: function.into(), ack_wait: DEFAULT_ACK_WAIT }
    }

    /// Changes how long to wait for Lambda to accept an invocation.
    #[must_use]
    pub const fn with_ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }
}

impl FollowupInvoker for LambdaInvoker {
    fn invoke<'a>(&'a self, job: &'a FollowupJob) -> InvokeFuture<'a> {
        Box::pin(async move {
            let payload = serde_json::to_vec(job)
                .map_err(|e| InvokeError::with_source("the job does not serialise", e))?;
            let send = self
                .client
                .get()
                .await
                .invoke()
                .function_name(&self.function)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(payload))
                .send();
            // Spawned, so that it keeps going if the wait below runs out (see the module docs).
            let task = tokio::spawn(send);
            match tokio::time::timeout(self.ack_wait, task).await {
                Ok(Ok(Ok(output))) => match output.function_error() {
                    // Only the emulator runs the function before answering, and can report its failure.
                    Some(error) => {
                        Err(InvokeError::new(format!("{} failed: {error}", self.function)))
                    }
                    None => Ok(()),
                },
                Ok(Ok(Err(error))) => {
                    let code = aws_sdk_lambda::error::ProvideErrorMetadata::code(&error)
                        .unwrap_or("no answer")
                        .to_owned();
                    Err(InvokeError::with_source(
                        format!("Lambda refused to invoke {} ({code})", self.function),
                        error,
                    ))
                }
                Ok(Err(join)) => Err(InvokeError::with_source("the invocation task failed", join)),
                Err(_elapsed) => {
                    tracing::warn!(
                        function = %self.function,
                        wait_ms = self.ack_wait.as_millis(),
                        "invocation not acknowledged yet; assuming it runs"
                    );
                    Ok(())
                }
            }
        })
    }
}
