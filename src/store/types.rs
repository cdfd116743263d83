//! Closed sets stored as TEXT: one Rust enum each, converted at the store
//! boundary for both backends, so no other file compares their strings.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Implements TEXT conversion for an enum with `as_str` and `parse`.
macro_rules! text_enum {
    ($ty:ty) => {
        impl<DB> ToSql<Text, DB> for $ty
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> FromSql<Text, DB> for $ty
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                <$ty>::parse(&text)
                    .ok_or_else(|| format!("unknown {} {text:?}", stringify!($ty)).into())
            }
        }
    };
}

/// A user's role in their account.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    AsExpression,
    FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Manager,
    Editor,
    Creator,
    Lite,
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::Manager,
        Role::Editor,
        Role::Creator,
        Role::Lite,
        Role::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Manager => "manager",
            Role::Editor => "editor",
            Role::Creator => "creator",
            Role::Lite => "lite",
            Role::ReadOnly => "read_only",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

text_enum!(Role);

/// Authenticator assurance level of a session (NIST SP 800-63B).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    AsExpression,
    FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
pub enum Aal {
    /// One factor (the password).
    Aal1,
    /// Two factors (password plus TOTP code or recovery token).
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }

    pub fn parse(text: &str) -> Option<Aal> {
        [Aal::Aal1, Aal::Aal2]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

text_enum!(Aal);

/// A user's role as stored: a built-in role's name, or the id of one of
/// the account's custom roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum RoleRef {
    BuiltIn(Role),
    Custom(String),
}

impl RoleRef {
    pub fn as_str(&self) -> &str {
        match self {
            RoleRef::BuiltIn(role) => role.as_str(),
            RoleRef::Custom(id) => id,
        }
    }

    /// A built-in name, else a custom role's id (not checked here).
    pub fn parse(text: &str) -> RoleRef {
        match Role::parse(text) {
            Some(role) => RoleRef::BuiltIn(role),
            None => RoleRef::Custom(text.to_string()),
        }
    }

    pub fn builtin(&self) -> Option<Role> {
        match self {
            RoleRef::BuiltIn(role) => Some(*role),
            RoleRef::Custom(_) => None,
        }
    }
}

impl From<Role> for RoleRef {
    fn from(role: Role) -> Self {
        RoleRef::BuiltIn(role)
    }
}

impl Serialize for RoleRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RoleRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|text| RoleRef::parse(&text))
    }
}

impl<DB> ToSql<Text, DB> for RoleRef
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
    }
}

impl<DB> FromSql<Text, DB> for RoleRef
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(RoleRef::parse(&<String as FromSql<Text, DB>>::from_sql(
            bytes,
        )?))
    }
}

/// One authentication method (RFC 8176 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The password.
    Pwd,
    /// A single sign-on through an identity provider.
    Sso,
    /// The identity provider did multi-factor authentication (and is
    /// trusted to): follows `sso`.
    #[serde(rename = "mfa")]
    IdpMfa,
    /// A TOTP code.
    Otp,
    /// The one-time recovery token.
    Rec,
    /// A hardware-bound key (passkey).
    Hwk,
    /// A remembered device.
    Dev,
    /// The authenticator verified the user (PIN, biometrics): follows
    /// `hwk` in a passwordless sign-in.
    User,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Pwd,
        Method::Sso,
        Method::IdpMfa,
        Method::Otp,
        Method::Rec,
        Method::Hwk,
        Method::Dev,
        Method::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Sso => "sso",
            Method::IdpMfa => "mfa",
            Method::Otp => "otp",
            Method::Rec => "rec",
            Method::Hwk => "hwk",
            Method::Dev => "dev",
            Method::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// Whether the method is a first factor (what a sign-in starts with).
    pub fn is_first_factor(self) -> bool {
        matches!(self, Method::Pwd | Method::Sso)
    }

    /// Whether proving the method proves a second factor there and then
    /// (a remembered device proves only that a factor was proven once).
    pub fn proves_factor(self) -> bool {
        matches!(
            self,
            Method::Otp | Method::Rec | Method::Hwk | Method::IdpMfa
        )
    }
}

/// The authentication methods of a session (or a challenge's first
/// factor), in the order proven: a first factor (`pwd` or `sso`), then the
/// second factors (`mfa` after a trusted provider's MFA, `otp`, `rec`,
/// `hwk`, `dev`). Stored as one TEXT column (space-separated); the
/// assurance level is derived from it ([`Amr::aal`]) and never stored
/// beside it, so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Amr(String);

impl Amr {
    /// The methods, in order.
    pub fn of(methods: &[Method]) -> Amr {
        Amr(methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" "))
    }

    pub fn password() -> Amr {
        Amr::of(&[Method::Pwd])
    }

    /// The stored form read back: `None` unless there is at least one
    /// method and every method is known.
    pub fn parse(text: &str) -> Option<Amr> {
        let methods: Option<Vec<Method>> = text.split(' ').map(Method::parse).collect();
        methods.filter(|m| !m.is_empty()).map(|m| Amr::of(&m))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.0.split(' ').filter_map(Method::parse)
    }

    /// The names, for tokens and answers.
    pub fn names(&self) -> Vec<String> {
        self.methods().map(|m| m.as_str().to_string()).collect()
    }

    /// `aal2` exactly when a second factor was proven.
    pub fn aal(&self) -> Aal {
        if self.methods().any(|m| !m.is_first_factor()) {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    }

    /// Whether a second factor was proven when these methods were (not a
    /// remembered device's `dev`).
    pub fn proves_factor(&self) -> bool {
        self.methods().any(Method::proves_factor)
    }

    /// These methods followed by `second`.
    pub fn then(&self, second: Method) -> Amr {
        Amr(format!("{} {}", self.0, second.as_str()))
    }

    /// The first factor alone (what remains when the second factors go).
    pub fn first_factor(&self) -> Amr {
        Amr::of(&[self.methods().next().unwrap_or(Method::Pwd)])
    }
}

impl Serialize for Amr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.methods())
    }
}

text_enum!(Amr);

#[cfg(test)]
mod amr_tests {
    use super::*;

    #[test]
    fn the_assurance_level_follows_the_methods() {
        assert_eq!(Amr::password().aal(), Aal::Aal1);
        assert_eq!(Amr::of(&[Method::Sso]).aal(), Aal::Aal1);
        assert_eq!(Amr::password().then(Method::Otp).aal(), Aal::Aal2);
        assert_eq!(Amr::of(&[Method::Sso, Method::IdpMfa]).aal(), Aal::Aal2);
        let rec = Amr::password().then(Method::Rec);
        assert_eq!(rec.as_str(), "pwd rec");
        assert_eq!(rec.first_factor(), Amr::password());
        assert_eq!(rec.first_factor().aal(), Aal::Aal1);
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(
            Amr::parse("pwd otp"),
            Some(Amr::password().then(Method::Otp))
        );
        assert_eq!(Amr::parse("pwd root"), None);
        assert_eq!(Amr::parse(""), None);
        assert_eq!(
            serde_json::to_value(Amr::of(&[Method::Sso, Method::IdpMfa])).unwrap(),
            serde_json::json!(["sso", "mfa"])
        );
    }
}

/// What a login challenge is (`login_challenges.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum ChallengeKind {
    /// The pending second step of a login (`mfa_token`).
    Mfa,
    /// A forced enrollment grant (`enrollment_token`).
    Enrollment,
    /// A single sign-on login code (`login_code`).
    Sso,
    /// A single sign-on link token (`link_token`).
    SsoLink,
}

impl ChallengeKind {
    pub const ALL: [ChallengeKind; 4] = [
        ChallengeKind::Mfa,
        ChallengeKind::Enrollment,
        ChallengeKind::Sso,
        ChallengeKind::SsoLink,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::Mfa => "mfa",
            ChallengeKind::Enrollment => "enrollment",
            ChallengeKind::Sso => "sso",
            ChallengeKind::SsoLink => "sso_link",
        }
    }

    pub fn parse(text: &str) -> Option<ChallengeKind> {
        ChallengeKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

text_enum!(ChallengeKind);

/// The state of a TOTP credential (`totp_credentials.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum TotpStatus {
    /// Started, waiting for its first code (10 minutes).
    Pending,
    /// The user's second factor.
    Active,
}

impl TotpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TotpStatus::Pending => "pending",
            TotpStatus::Active => "active",
        }
    }

    pub fn parse(text: &str) -> Option<TotpStatus> {
        [TotpStatus::Pending, TotpStatus::Active]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

text_enum!(TotpStatus);

/// Which second factors count for an account or a sub-account
/// (`mfa_methods`): any, or only phishing-resistant ones (passkeys).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    AsExpression,
    FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethods {
    /// TOTP, recovery tokens and passkeys.
    #[default]
    Any,
    /// Passkeys only: a code can be phished by a proxy in real time.
    PhishingResistant,
}

impl MfaMethods {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethods::Any => "any",
            MfaMethods::PhishingResistant => "phishing_resistant",
        }
    }

    pub fn parse(text: &str) -> Option<MfaMethods> {
        [MfaMethods::Any, MfaMethods::PhishingResistant]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

text_enum!(MfaMethods);
