//! The store's error type.

use std::fmt;

/// What went wrong, for callers that react differently (retry, report, stop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Another writer appended to the guild's log first; reload and retry.
    Conflict,
    /// The table does not exist.
    TableMissing,
    /// A setting is missing or wrong.
    Configuration,
    /// DynamoDB kept throttling or failing after the SDK's retries.
    Unavailable,
    /// Stored data could not be read back.
    Corrupt,
    /// Batches are waiting to be folded for too long; compaction must run first.
    CompactionBehind,
    /// Compaction stopped at its deadline; what it folded is kept and the next compaction continues.
    OutOfTime,
    /// A crash injected by a test.
    Injected,
    /// Any other DynamoDB error.
    Dynamo,
}

/// A store error with the context of what was being done.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// [`StoreErrorKind::OutOfTime`] once `deadline` has passed: long work (an erasure's fold) stops
    /// between two steps, keeping what it did, and the next compaction goes on.
    pub(crate) fn check_deadline(
        deadline: Option<tokio::time::Instant>,
        doing: &str,
    ) -> Result<(), Self> {
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Err(Self::new(
                StoreErrorKind::OutOfTime,
                format!("{doing}: stopped at the deadline; the next compaction goes on"),
            ));
        }
        Ok(())
    }

    pub(crate) fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    pub(crate) fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether trying again later can help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Conflict | StoreErrorKind::Unavailable | StoreErrorKind::Injected
        )
    }

    /// Wraps a DynamoDB SDK error with what was being done to which table and key.
    pub(crate) fn dynamo<E, R>(
        doing: impl fmt::Display,
        table: &str,
        err: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        use aws_sdk_dynamodb::error::SdkError;
        let code = match &err {
            SdkError::ServiceError(e) => e.err().code().map(str::to_owned),
            _ => None,
        };
        let kind = match code.as_deref() {
            Some("ResourceNotFoundException") => StoreErrorKind::TableMissing,
            Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
                StoreErrorKind::Conflict
            }
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable",
            ) => StoreErrorKind::Unavailable,
            Some(_) => StoreErrorKind::Dynamo,
            // No service error code: the request did not get an answer (connection refused, timeout).
            None => StoreErrorKind::Unavailable,
        };
        let detail = match (&err, &code) {
            (SdkError::ServiceError(e), Some(code)) => {
                format!("{code}: {}", e.err().message().unwrap_or("no message"))
            }
            (SdkError::DispatchFailure(_), _) => {
                "could not reach DynamoDB (is the endpoint right and up?)".to_owned()
            }
            (SdkError::TimeoutError(_), _) => "DynamoDB did not answer in time".to_owned(),
            _ => "DynamoDB request failed".to_owned(),
        };
        let mut message = format!("{doing} in table `{table}`: {detail}");
        if kind == StoreErrorKind::TableMissing {
            message.push_str(&format!(
                ". Create it with `engagement create-table` (TABLE_NAME={table}), or deploy infra/template.yaml"
            ));
        }
        Self::with_source(kind, message, err)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<engagement_domain::CodecError> for StoreError {
    fn from(err: engagement_domain::CodecError) -> Self {
        Self::with_source(
            StoreErrorKind::Corrupt,
            format!("stored item cannot be decoded: {err}"),
            err,
        )
    }
}

impl From<engagement_domain::summary::SummaryError> for StoreError {
    fn from(err: engagement_domain::summary::SummaryError) -> Self {
        Self::with_source(
            StoreErrorKind::Corrupt,
            format!("stored summary cannot be read: {err}"),
            err,
        )
    }
}
