//! The error policy: every failure a client can see is an [`ApiError`],
//! rendered as RFC 9457 `application/problem+json` with a stable `code`.
//!
//! - What the client sees is decided here; internal causes (database, I/O)
//!   are logged with `tracing` and answered with a generic 500 that reveals
//!   nothing.
//! - Credential failures are deliberately vague: a wrong email, a wrong
//!   password and a disabled user are the same `invalid_credentials`.
//! - A row of another tenant is `not_found`, exactly like a missing row.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One invalid field of a 422 answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, e.g. `email`.
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details, as every error is answered.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"type": "https://latchkey.dev/problems/invalid_credentials", "title": "Invalid credentials", "status": 401, "detail": "The email or password is not correct.", "code": "invalid_credentials"}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code (see the API contract).
    pub code: ErrorCode,
    /// Present on 422 `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Present on 401 `mfa_code_invalid`: wrong codes left on this challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_remaining: Option<i32>,
    /// Present on 429: seconds until a retry can succeed (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The stable codes of problem documents (API.md, *Conventions*): an enum
/// in the OpenAPI document, so typed clients get a union of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidCredentials,
    Unauthorized,
    MfaCodeInvalid,
    ChallengeExpired,
    ReauthenticationRequired,
    Forbidden,
    MfaEnforced,
    MfaRequiredForAction,
    MfaEnrollmentRequired,
    StepUpRequired,
    NotFound,
    MethodNotAllowed,
    Conflict,
    MfaNotEnabled,
    NoPendingEnrollment,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    TooManyAttempts,
    ServiceUnavailable,
    IdentityProviderUnavailable,
    InternalError,
    LinkInvalid,
    LinkExpired,
    PhishingResistantRequired,
    /// Single sign-on: the provider did not sign the user in, or the user
    /// is beyond what the provider may reach.
    AccessDenied,
    InvalidIdToken,
    EmailNotVerified,
    UserNotFound,
    FlowExpired,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PhishingResistantRequired => "phishing_resistant_required",
            ErrorCode::LinkInvalid => "link_invalid",
            ErrorCode::LinkExpired => "link_expired",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::MfaCodeInvalid => "mfa_code_invalid",
            ErrorCode::ChallengeExpired => "challenge_expired",
            ErrorCode::ReauthenticationRequired => "reauthentication_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::MfaEnforced => "mfa_enforced",
            ErrorCode::MfaRequiredForAction => "mfa_required_for_action",
            ErrorCode::MfaEnrollmentRequired => "mfa_enrollment_required",
            ErrorCode::StepUpRequired => "step_up_required",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::MfaNotEnabled => "mfa_not_enabled",
            ErrorCode::NoPendingEnrollment => "no_pending_enrollment",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::IdentityProviderUnavailable => "identity_provider_unavailable",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidIdToken => "invalid_id_token",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::FlowExpired => "flow_expired",
        }
    }
}

/// Why a single sign-on did not finish: the `error` code handed back to the
/// client's `redirect_uri` (and the `code` of the problem where one is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoFailure {
    /// The provider answered with an error (the user cancelled, ...).
    AccessDenied,
    /// The ID token failed validation (issuer, audience, signature, nonce,
    /// expiry) or was missing.
    InvalidIdToken,
    /// The provider does not vouch for the email, and no link exists.
    EmailNotVerified,
    /// No usable user: none linked, none with that email in the provider's
    /// scope and no just-in-time provisioning, or the user is disabled (the
    /// audit event tells which; the client is not told).
    UserNotFound,
    /// The sign-in flow is unknown, spent or older than 10 minutes.
    FlowExpired,
}

impl SsoFailure {
    pub fn code(self) -> &'static str {
        self.error_code().as_str()
    }

    pub fn error_code(self) -> ErrorCode {
        match self {
            SsoFailure::AccessDenied => ErrorCode::AccessDenied,
            SsoFailure::InvalidIdToken => ErrorCode::InvalidIdToken,
            SsoFailure::EmailNotVerified => ErrorCode::EmailNotVerified,
            SsoFailure::UserNotFound => ErrorCode::UserNotFound,
            SsoFailure::FlowExpired => ErrorCode::FlowExpired,
        }
    }

    fn detail(self) -> &'static str {
        match self {
            SsoFailure::AccessDenied => "The identity provider did not sign you in.",
            SsoFailure::InvalidIdToken => "The identity provider's answer could not be verified.",
            SsoFailure::EmailNotVerified => {
                "The identity provider has not verified your email address."
            }
            SsoFailure::UserNotFound => {
                "No user of this account matches your identity provider's account."
            }
            SsoFailure::FlowExpired => "The sign-in attempt has expired; start again.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An SSO login code that is unknown, spent or expired (401
    /// `invalid_credentials`, with its own detail).
    #[error("invalid login code")]
    InvalidLoginCode,
    #[error("unauthorized")]
    Unauthorized,
    #[error("mfa code invalid")]
    MfaCodeInvalid { attempts_remaining: Option<i32> },
    #[error("challenge expired")]
    ChallengeExpired,
    #[error("reauthentication required")]
    ReauthenticationRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("mfa enforced")]
    MfaEnforced,
    #[error("mfa required for action")]
    MfaRequiredForAction,
    #[error("mfa enrollment required")]
    MfaEnrollmentRequired,
    /// A change that needs a factor proven in this session within the last
    /// 10 minutes (`POST /api/v1/sessions/current/step-up`).
    #[error("step-up required")]
    StepUpRequired,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("mfa not enabled")]
    MfaNotEnabled,
    #[error("no pending enrollment")]
    NoPendingEnrollment,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many attempts")]
    TooManyAttempts { retry_after: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A single sign-on that cannot finish (the provider said no, its ID
    /// token is not valid, no user to sign in, ...).
    #[error("single sign-on refused: {0:?}")]
    Sso(SsoFailure),
    /// The identity provider could not be reached or answered nonsense
    /// (502); the cause is logged, never sent.
    #[error("identity provider unavailable: {0}")]
    IdentityProviderUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A link from a mail (reset, invitation, sign-up) that never existed
    /// (401 `link_invalid`).
    #[error("link invalid")]
    LinkInvalid,
    /// A link from a mail that was used, replaced, revoked or has expired
    /// (410 `link_expired`).
    #[error("link expired")]
    LinkExpired,
    /// A code at the second step where only passkeys count (403
    /// `phishing_resistant_required`).
    #[error("phishing-resistant factor required")]
    PhishingResistantRequired,
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The stable `code`.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The stable `code`, typed.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::InvalidCredentials | ApiError::InvalidLoginCode => {
                ErrorCode::InvalidCredentials
            }
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::MfaCodeInvalid { .. } => ErrorCode::MfaCodeInvalid,
            ApiError::ChallengeExpired => ErrorCode::ChallengeExpired,
            ApiError::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::MfaEnforced => ErrorCode::MfaEnforced,
            ApiError::MfaRequiredForAction => ErrorCode::MfaRequiredForAction,
            ApiError::StepUpRequired => ErrorCode::StepUpRequired,
            ApiError::MfaEnrollmentRequired => ErrorCode::MfaEnrollmentRequired,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::MfaNotEnabled => ErrorCode::MfaNotEnabled,
            ApiError::NoPendingEnrollment => ErrorCode::NoPendingEnrollment,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            ApiError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            ApiError::Sso(failure) => failure.error_code(),
            ApiError::IdentityProviderUnavailable(_) => ErrorCode::IdentityProviderUnavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
            ApiError::LinkInvalid => ErrorCode::LinkInvalid,
            ApiError::LinkExpired => ErrorCode::LinkExpired,
            ApiError::PhishingResistantRequired => ErrorCode::PhishingResistantRequired,
        }
    }

    fn title_and_detail(&self) -> (&'static str, String) {
        match self {
            ApiError::BadRequest(d) => ("Bad request", d.clone()),
            ApiError::InvalidCredentials => (
                "Invalid credentials",
                "The email or password is not correct.".into(),
            ),
            ApiError::InvalidLoginCode => (
                "Invalid credentials",
                "The sign-in code is unknown, used or expired; sign in with your identity provider again.".into(),
            ),
            ApiError::Unauthorized => ("Unauthorized", "A valid access token is required.".into()),
            ApiError::MfaCodeInvalid { .. } => ("Invalid code", "The code is not valid.".into()),
            ApiError::ChallengeExpired => (
                "Challenge expired",
                "The sign-in attempt has expired; sign in again with your password.".into(),
            ),
            ApiError::ReauthenticationRequired => (
                "Reauthentication required",
                "Confirm this action with your current password.".into(),
            ),
            ApiError::Forbidden => ("Forbidden", "Your role does not allow this action.".into()),
            ApiError::MfaEnforced => (
                "MFA enforced",
                "MFA is required for your account and cannot be disabled.".into(),
            ),
            ApiError::MfaRequiredForAction => (
                "MFA required for this action",
                "Sign in with your second factor to perform this action.".into(),
            ),
            ApiError::StepUpRequired => (
                "Step-up required",
                "Prove your second factor again (POST /api/v1/sessions/current/step-up), then retry: this change needs one proven in the last 10 minutes.".into(),
            ),
            ApiError::MfaEnrollmentRequired => (
                "MFA enrollment required",
                "Set up MFA before using the rest of the API.".into(),
            ),
            ApiError::NotFound => ("Not found", "The resource does not exist.".into()),
            ApiError::MethodNotAllowed { allow } => (
                "Method not allowed",
                format!("This resource supports {allow}."),
            ),
            ApiError::Conflict(d) => ("Conflict", d.clone()),
            ApiError::MfaNotEnabled => (
                "MFA not enabled",
                "MFA is not enabled for this user.".into(),
            ),
            ApiError::NoPendingEnrollment => (
                "No pending enrollment",
                "Start an enrollment first; it may have expired.".into(),
            ),
            ApiError::PayloadTooLarge => (
                "Payload too large",
                "The request body exceeds 64 KiB.".into(),
            ),
            ApiError::UnsupportedMediaType => (
                "Unsupported media type",
                "Send the body as application/json.".into(),
            ),
            ApiError::Validation(_) => (
                "Validation failed",
                "One or more fields are invalid.".into(),
            ),
            ApiError::TooManyAttempts { .. } => (
                "Too many attempts",
                "Too many attempts; try again later.".into(),
            ),
            ApiError::Unavailable(_) => (
                "Service unavailable",
                "The service is temporarily unavailable.".into(),
            ),
            ApiError::Sso(failure) => ("Single sign-on failed", failure.detail().into()),
            ApiError::IdentityProviderUnavailable(_) => (
                "Identity provider unavailable",
                "The identity provider could not be reached or gave an invalid answer; try again later.".into(),
            ),
            ApiError::Internal(_) => ("Internal error", "An unexpected error occurred.".into()),
            ApiError::LinkInvalid => (
                "Invalid link",
                "This link is not valid; copy the whole address from the message.".into(),
            ),
            ApiError::LinkExpired => (
                "Link expired",
                "This link has expired or was already used; ask for a new one.".into(),
            ),
            ApiError::PhishingResistantRequired => (
                "Passkey required",
                "Your organization accepts only passkeys as a second factor: use your passkey.".into(),
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (title, detail) = self.title_and_detail();
        let code = self.error_code();
        Problem {
            type_: format!("https://latchkey.dev/problems/{}", code.as_str()),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
            code,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            attempts_remaining: match self {
                ApiError::MfaCodeInvalid { attempts_remaining } => *attempts_remaining,
                _ => None,
            },
            retry_after: match self {
                ApiError::TooManyAttempts { retry_after } => Some(*retry_after),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials
            | ApiError::InvalidLoginCode
            | ApiError::Unauthorized
            | ApiError::MfaCodeInvalid { .. }
            | ApiError::ChallengeExpired => StatusCode::UNAUTHORIZED,
            ApiError::ReauthenticationRequired
            | ApiError::Forbidden
            | ApiError::MfaEnforced
            | ApiError::MfaRequiredForAction
            | ApiError::StepUpRequired
            | ApiError::MfaEnrollmentRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::MfaNotEnabled | ApiError::NoPendingEnrollment => {
                StatusCode::CONFLICT
            }
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Sso(_) => StatusCode::UNAUTHORIZED,
            ApiError::IdentityProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::LinkInvalid => StatusCode::UNAUTHORIZED,
            ApiError::LinkExpired => StatusCode::GONE,
            ApiError::PhishingResistantRequired => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause)
        | ApiError::Unavailable(cause)
        | ApiError::IdentityProviderUnavailable(cause) = self
        {
            tracing::error!(%cause, "request failed");
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.content_type("application/problem+json");
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::TooManyAttempts { retry_after } => {
                builder.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unauthorized | ApiError::InvalidCredentials => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                builder.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        builder.json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound,
            ref err if crate::store::is_unique_violation(err) => {
                ApiError::Conflict("The resource already exists.".into())
            }
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

impl From<crate::crypto::seal::SealError> for ApiError {
    fn from(e: crate::crypto::seal::SealError) -> Self {
        ApiError::Internal(format!("seal: {e}"))
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ApiError::Unavailable(format!("database pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
