//! Request and response bodies of the JSON API.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::admin::UserView;
use crate::domain::keys::Jwk;
use crate::domain::mfa::MfaStatus;
use crate::domain::policy::{Aal, Permission};
use crate::domain::sessions::Issued;
use crate::domain::{Account, AuditEvent, Session, SubAccount, User};
use crate::domain::{MfaMethods, RoleRef};

pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// The list envelope of every collection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    #[schema(example = 1)]
    pub page: i64,
    #[schema(example = 50)]
    pub per_page: i64,
    /// How many items the filters match, over all pages.
    pub total: i64,
}

/// A user as administrators and the user see them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    #[schema(example = "ann@example.com")]
    pub email: String,
    pub display_name: String,
    /// A built-in role (`administrator`, `manager`, `editor`, `creator`,
    /// `lite`, `read_only`) or the id of one of the account's custom roles.
    #[schema(value_type = String, example = "editor")]
    pub role: RoleRef,
    pub sub_account_id: Option<String>,
    pub disabled: bool,
    /// `false` is the open padlock: the user has not set up MFA.
    pub mfa_enabled: bool,
    /// A rule requires MFA of the user (their own, their sub-account's or
    /// the account's; now or from a deadline).
    pub mfa_required: bool,
    /// MFA required of this user whatever their scope's policy
    /// (`PATCH /api/v1/users/{id} {require_mfa}`).
    pub require_mfa: bool,
    /// End of the user's latest second-factor lock (past once it has
    /// ended); null when none since the last correct code or Reset MFA.
    pub mfa_locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&UserView> for UserResponse {
    fn from(view: &UserView) -> Self {
        UserResponse::new(&view.user, view.mfa_required)
    }
}

impl UserResponse {
    pub fn new(user: &User, mfa_required: bool) -> Self {
        UserResponse {
            id: user.id.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.clone(),
            sub_account_id: user.sub_account_id.clone(),
            disabled: user.disabled,
            mfa_enabled: user.mfa_enabled_at.is_some(),
            mfa_required,
            require_mfa: user.require_mfa,
            mfa_locked_until: user.mfa_locked_until.map(utc),
            last_login_at: user.last_login_at.map(utc),
            created_at: utc(user.created_at),
        }
    }
}

/// `GET /api/v1/me`: the user with their MFA settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    #[serde(flatten)]
    pub user: UserResponse,
    pub mfa: MfaStatus,
    /// What the caller's role holds now (see `GET /api/v1/permissions`):
    /// what a client may offer this user.
    #[schema(value_type = Vec<Permission>, example = json!(["users.view", "users.reset_mfa"]))]
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountResponse {
    pub id: String,
    pub name: String,
    pub require_mfa: bool,
    /// With `require_mfa`: the deadline. Before it, users without MFA sign
    /// in as usual and are told when setup is due; from it they must enroll.
    pub require_mfa_from: Option<DateTime<Utc>>,
    /// Which second factors count: `any` or `phishing_resistant` (passkeys).
    pub mfa_methods: MfaMethods,
    /// How many days "Remember this device" skips the second step (0: off).
    pub remember_device_days: i32,
    pub created_at: DateTime<Utc>,
}

impl From<&Account> for AccountResponse {
    fn from(a: &Account) -> Self {
        AccountResponse {
            id: a.id.clone(),
            name: a.name.clone(),
            require_mfa: a.require_mfa,
            require_mfa_from: a.require_mfa_from.map(utc),
            mfa_methods: a.mfa_methods,
            remember_device_days: a.remember_device_days,
            created_at: utc(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubAccountResponse {
    pub id: String,
    pub name: String,
    pub require_mfa: bool,
    /// With `require_mfa`: the deadline (see the account's).
    pub require_mfa_from: Option<DateTime<Utc>>,
    pub mfa_methods: MfaMethods,
    pub user_count: i64,
    pub created_at: DateTime<Utc>,
}

impl SubAccountResponse {
    pub fn new(s: &SubAccount, user_count: i64) -> Self {
        SubAccountResponse {
            id: s.id.clone(),
            name: s.name.clone(),
            require_mfa: s.require_mfa,
            require_mfa_from: s.require_mfa_from.map(utc),
            mfa_methods: s.mfa_methods,
            user_count,
            created_at: utc(s.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "Acme IT", min_length = 1, max_length = 200)]
    pub account_name: String,
    #[schema(example = "ann@example.com", max_length = 254)]
    pub email: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 12,
        max_length = 1024
    )]
    pub password: String,
    #[schema(example = "Ann Admin", min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignupResponse {
    pub account: AccountResponse,
    pub user: UserResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ann@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "correct horse battery staple", max_length = 1024)]
    pub password: String,
    /// A remembered device's token (from a second step with
    /// `remember_device: true`): skips the second step while it is valid.
    /// An unknown, expired or revoked one is ignored (the second step is
    /// asked for as usual).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub device_token: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatedStatus {
    Authenticated,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaRequiredStatus {
    MfaRequired,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentRequiredStatus {
    MfaEnrollmentRequired,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationSentStatus {
    VerificationSent,
}

/// `LATCHKEY_SIGNUP=verify`: the same answer whatever the email.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerificationSentResponse {
    pub status: VerificationSentStatus,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySignupRequest {
    /// The token from the link's fragment (`#token=...`).
    #[schema(example = "lkv_...", max_length = 200)]
    pub token: String,
}

/// Tokens of a completed login or refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthenticatedResponse {
    pub status: AuthenticatedStatus,
    /// EdDSA JWT; send as `Authorization: Bearer ...`.
    pub access_token: String,
    pub token_type: TokenType,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Single-use; exchange at `POST /api/v1/sessions/refresh`.
    pub refresh_token: String,
    pub session_id: String,
    pub user: UserResponse,
    /// On the second step only: whether the recovery token was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_token_used: Option<bool>,
    /// A required user without MFA before the deadline: when setup is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<SetupDue>,
    /// `remember_device: true` on the second step, where the account
    /// remembers devices: send it with the password next time to skip the
    /// second step (`POST /api/v1/sessions {device_token}`). Shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// Until when a required user may still sign in without MFA.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SetupDue {
    pub setup_due_at: DateTime<Utc>,
}

impl AuthenticatedResponse {
    pub fn new(issued: Issued, recovery_token_used: Option<bool>) -> Self {
        AuthenticatedResponse {
            status: AuthenticatedStatus::Authenticated,
            access_token: issued.access_token,
            token_type: TokenType::Bearer,
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            session_id: issued.session_id,
            user: UserResponse::new(&issued.user, issued.mfa_required),
            recovery_token_used,
            mfa: issued.setup_due_at.map(|at| SetupDue {
                setup_due_at: utc(at),
            }),
            device_token: None,
        }
    }
}

/// The password was right; the second factor is needed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaRequiredResponse {
    pub status: MfaRequiredStatus,
    /// Send with the code to `POST /api/v1/sessions/mfa`.
    pub mfa_token: String,
    #[schema(example = 300)]
    pub expires_in: u64,
    /// What the user can present: `totp` (a TOTP secret), `recovery_token`
    /// (while an unused one exists), `passkey`; where only passkeys count,
    /// `passkey` alone.
    #[schema(example = json!(["totp", "recovery_token", "passkey"]))]
    pub methods: Vec<String>,
    /// With `passkey`: WebAuthn request options for
    /// `navigator.credentials.get` (`publicKey`, base64url binary fields);
    /// send the assertion as `passkey` to `POST /api/v1/sessions/mfa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub passkey_options: Option<serde_json::Value>,
    /// The account remembers devices this many days: offer "Remember this
    /// device" (`remember_device: true` on the second step) when above 0.
    pub remember_device_days: i32,
}

/// The password was right; a policy requires MFA the user has not set up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentRequiredResponse {
    pub status: EnrollmentRequiredStatus,
    /// Bearer token accepted only by the factor set-up routes:
    /// `/api/v1/me/mfa/totp`, `/totp/verify`, `/passkeys/options` and
    /// `/passkeys`.
    pub enrollment_token: String,
    #[schema(example = 600)]
    pub expires_in: u64,
    /// What may be set up: `totp` and `passkey`, or `passkey` alone where
    /// the account or sub-account lets only passkeys count.
    #[schema(example = json!(["totp", "passkey"]))]
    pub methods: Vec<String>,
}

/// The answer to the password step, told apart by `status`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "status", mapping(
    ("authenticated" = "#/components/schemas/AuthenticatedResponse"),
    ("mfa_required" = "#/components/schemas/MfaRequiredResponse"),
    ("mfa_enrollment_required" = "#/components/schemas/EnrollmentRequiredResponse"),
)))]
pub enum LoginResponse {
    Authenticated(AuthenticatedResponse),
    MfaRequired(MfaRequiredResponse),
    EnrollmentRequired(EnrollmentRequiredResponse),
}

impl From<crate::domain::login::LoginOutcome> for LoginResponse {
    fn from(outcome: crate::domain::login::LoginOutcome) -> Self {
        use crate::domain::login::LoginOutcome;
        match outcome {
            LoginOutcome::Authenticated(issued) => {
                LoginResponse::Authenticated(AuthenticatedResponse::new(*issued, None))
            }
            LoginOutcome::MfaRequired {
                mfa_token,
                expires_in,
                methods,
                passkey_options,
                remember_device_days,
            } => LoginResponse::MfaRequired(MfaRequiredResponse {
                status: MfaRequiredStatus::MfaRequired,
                mfa_token,
                expires_in,
                methods: methods.into_iter().map(String::from).collect(),
                passkey_options,
                remember_device_days,
            }),
            LoginOutcome::EnrollmentRequired {
                enrollment_token,
                expires_in,
                methods,
            } => LoginResponse::EnrollmentRequired(EnrollmentRequiredResponse {
                status: EnrollmentRequiredStatus::MfaEnrollmentRequired,
                enrollment_token,
                expires_in,
                methods: methods.into_iter().map(String::from).collect(),
            }),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLoginRequest {
    #[schema(max_length = 200)]
    pub mfa_token: String,
    /// The 6-digit TOTP code, or the recovery token (case, spaces and dashes
    /// ignored). Either `code` or `passkey`.
    #[schema(example = "123456", max_length = 64)]
    pub code: Option<String>,
    /// The assertion of `navigator.credentials.get` with the challenge's
    /// `passkey_options`, as JSON. Either `code` or `passkey`.
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub passkey: Option<serde_json::Value>,
    /// Remember this device: the answer carries a `device_token` that
    /// skips the second step for the account's `remember_device_days`
    /// (nothing when the account does not remember devices, or for a
    /// recovery token).
    #[serde(default)]
    pub remember_device: bool,
}

/// `POST /api/v1/sessions/current/step-up`: a TOTP code or a passkey
/// assertion (with the options of `.../step-up/options`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// The 6-digit TOTP code. Either `code` or `passkey`.
    #[schema(example = "123456", max_length = 64)]
    pub code: Option<String>,
    /// The assertion of `navigator.credentials.get` with the step-up
    /// options' `passkey_options`, as JSON. Either `code` or `passkey`.
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub passkey: Option<serde_json::Value>,
}

/// What the session can prove to step up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepUpOptionsResponse {
    /// `totp` and/or `passkey`.
    #[schema(example = json!(["totp", "passkey"]))]
    pub methods: Vec<String>,
    /// With `passkey`: WebAuthn request options (`publicKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub passkey_options: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(max_length = 200)]
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(max_length = 1024)]
    pub current_password: String,
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(example = json!(["pwd", "otp"]))]
    pub amr: Vec<String>,
    pub aal: Aal,
    /// The session of the token making this request.
    pub current: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartEnrollmentRequest {
    /// Required when MFA is already enabled (re-enrollment).
    pub password: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentResponse {
    /// Unpadded base32, for "Show secret key for manual configuration".
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    #[schema(
        example = "otpauth://totp/Latchkey:ann%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Latchkey&algorithm=SHA1&digits=6&period=30"
    )]
    pub otpauth_uri: String,
    /// `data:image/png;base64,...` QR code of `otpauth_uri`.
    pub qr_code_png: String,
    /// The same QR code as SVG markup.
    pub qr_code_svg: String,
    /// The pending enrollment must be verified before this.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(example = "123456", max_length = 64)]
    pub code: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyEnrollmentResponse {
    pub mfa: MfaStatus,
    /// One-time recovery token, shown once.
    #[schema(example = "7K3QD-XW9PM-2HGTR-C4BNV-8FJSA")]
    pub recovery_token: String,
    /// Fresh tokens to switch to: called with an enrollment token, a new
    /// session; called from a session, that same session, now `aal2`.
    /// Every other session of the user has ended.
    pub session: AuthenticatedResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableMfaRequest {
    /// The current password (required; a missing one is answered like a
    /// wrong one: 403 `reauthentication_required`).
    #[schema(required = true)]
    pub password: Option<String>,
    /// A current TOTP code or the recovery token.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The current password (required; a missing one is answered like a
    /// wrong one: 403 `reauthentication_required`).
    #[schema(required = true)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryTokenResponse {
    #[schema(example = "7K3QD-XW9PM-2HGTR-C4BNV-8FJSA")]
    pub recovery_token: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Require MFA for the account's own users. Off never disables anyone's
    /// MFA (and drops the deadline).
    pub require_mfa: Option<bool>,
    /// The deadline of `require_mfa` (RFC 3339; null: at once). Before it,
    /// users without MFA sign in and are told when setup is due; reminder
    /// mails go 7, 3 and 1 days before.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub require_mfa_from: Option<Option<DateTime<Utc>>>,
    /// `phishing_resistant`: only passkeys count as a second factor.
    pub mfa_methods: Option<MfaMethods>,
    /// "Remember this device" for this many days (0 turns it off and
    /// forgets every device at the next sign-in; at most 90).
    #[schema(minimum = 0, maximum = 90)]
    pub remember_device_days: Option<i32>,
}

/// A field that may be absent (`None`: leave it), null (`Some(None)`:
/// clear it) or set.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubAccountRequest {
    #[schema(example = "Globex (client)", min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    pub require_mfa: bool,
    /// `phishing_resistant`: only passkeys count for the sub-account's
    /// users (the stricter of the account's and the sub-account's applies).
    #[serde(default)]
    pub mfa_methods: MfaMethods,
    /// The deadline of `require_mfa` (see the account's).
    pub require_mfa_from: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubAccountRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub require_mfa: Option<bool>,
    /// The deadline of `require_mfa` (RFC 3339; null: at once).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub require_mfa_from: Option<Option<DateTime<Utc>>>,
    pub mfa_methods: Option<MfaMethods>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(example = "ed@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "Ed Editor", min_length = 1, max_length = 200)]
    pub display_name: String,
    /// A built-in role (`administrator`, `manager`, `editor`, `creator`,
    /// `lite`, `read_only`) or the id of one of the account's custom roles.
    #[schema(value_type = String, example = "editor", max_length = 64)]
    pub role: RoleRef,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    pub sub_account_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    /// A built-in role (`administrator`, `manager`, `editor`, `creator`,
    /// `lite`, `read_only`) or the id of one of the account's custom roles.
    #[schema(value_type = Option<String>, example = "editor", max_length = 64)]
    pub role: Option<RoleRef>,
    /// A disabled user cannot sign in; their sessions end at once.
    pub disabled: Option<bool>,
    /// Require MFA of this user whatever their scope's policy (at once:
    /// no deadline). Needs a step-up.
    pub require_mfa: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventResponse {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "mfa.reset")]
    pub type_: String,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<String>,
    pub target_user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        AuditEventResponse {
            id: e.id,
            type_: e.event_type,
            occurred_at: utc(e.occurred_at),
            actor_user_id: e.actor_user_id,
            target_user_id: e.target_user_id,
            ip: e.ip,
            user_agent: e.user_agent,
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// JSON Web Key Set of the access-token signing keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JwksResponse {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: String,
}

impl SessionResponse {
    pub fn new(s: Session, current_session_id: &str) -> Self {
        SessionResponse {
            current: s.id == current_session_id,
            aal: s.aal(),
            amr: s.amr.names(),
            created_at: utc(s.created_at),
            last_used_at: utc(s.last_used_at),
            ip: s.ip,
            user_agent: s.user_agent,
            id: s.id,
        }
    }
}
