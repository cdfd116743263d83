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
