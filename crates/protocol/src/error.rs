use serde::{Deserialize, Serialize};

/// The closed set of error codes the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request is malformed or breaks a limit; `field` says where.
    BadRequest,
    /// 400: the client speaks another API version.
    UnsupportedVersion,
    /// 401: no valid session (missing, expired or revoked), or wrong credentials.
    Unauthorized,
    /// 401: the account requires a TOTP code (or the one given is wrong or already used).
    MfaRequired,
    /// 403: authenticated, but not allowed to do this.
    Forbidden,
    /// 404: no such resource (or not visible to this caller).
    NotFound,
    /// 409: the change was based on an old version; the body carries the current one.
    Conflict,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 429: too many attempts; retry later.
    TooManyRequests,
    /// 500: the server failed; the message says nothing secret.
    Internal,
}

impl ErrorCode {
    /// The HTTP status for this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::UnsupportedVersion => 400,
            ErrorCode::Unauthorized | ErrorCode::MfaRequired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// The error inside an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What kind of failure.
    pub code: ErrorCode,
    /// For people: what was wrong and what to do.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error response body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
            },
        }
    }

    /// Name the field at fault.
    #[must_use]
    pub fn with_field(mut self, field: &str) -> Self {
        self.error.field = Some(field.to_owned());
        self
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for ErrorBody {}
