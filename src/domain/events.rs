//! What can happen, as audit events record it: the kinds (`EventType`)
//! and one event (`Event`). Below `audit` and `notices`, which both read
//! them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The kinds of audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "login.succeeded")]
    LoginSucceeded,
    #[serde(rename = "login.failed")]
    LoginFailed,
    #[serde(rename = "login.locked")]
    LoginLocked,
    #[serde(rename = "mfa.challenge_failed")]
    MfaChallengeFailed,
    #[serde(rename = "mfa.replay_refused")]
    MfaReplayRefused,
    #[serde(rename = "mfa.enabled")]
    MfaEnabled,
    #[serde(rename = "mfa.disabled")]
    MfaDisabled,
    #[serde(rename = "mfa.reset")]
    MfaReset,
    #[serde(rename = "recovery_token.generated")]
    RecoveryTokenGenerated,
    #[serde(rename = "recovery_token.used")]
    RecoveryTokenUsed,
    #[serde(rename = "account.policy_changed")]
    AccountPolicyChanged,
    #[serde(rename = "sub_account.created")]
    SubAccountCreated,
    #[serde(rename = "sub_account.policy_changed")]
    SubAccountPolicyChanged,
    #[serde(rename = "sub_account.deleted")]
    SubAccountDeleted,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    #[serde(rename = "password.changed")]
    PasswordChanged,
    #[serde(rename = "reauthentication.failed")]
    ReauthenticationFailed,
    #[serde(rename = "role.created")]
    RoleCreated,
    #[serde(rename = "role.updated")]
    RoleUpdated,
    #[serde(rename = "role.deleted")]
    RoleDeleted,
    #[serde(rename = "sso.login_succeeded")]
    SsoLoginSucceeded,
    #[serde(rename = "sso.login_failed")]
    SsoLoginFailed,
    #[serde(rename = "identity_provider.created")]
    IdentityProviderCreated,
    #[serde(rename = "identity_provider.updated")]
    IdentityProviderUpdated,
    #[serde(rename = "identity_provider.deleted")]
    IdentityProviderDeleted,
    #[serde(rename = "sso.identity_linked")]
    SsoIdentityLinked,
    #[serde(rename = "password.reset")]
    PasswordReset,
    #[serde(rename = "password_reset.requested")]
    PasswordResetRequested,
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    #[serde(rename = "invitation.resent")]
    InvitationResent,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
    #[serde(rename = "mail.failed")]
    MailFailed,
    #[serde(rename = "passkey.added")]
    PasskeyAdded,
    #[serde(rename = "passkey.removed")]
    PasskeyRemoved,
    #[serde(rename = "passkey.renamed")]
    PasskeyRenamed,
    #[serde(rename = "passkey.counter_regressed")]
    PasskeyCounterRegressed,
    #[serde(rename = "device.remembered")]
    DeviceRemembered,
    #[serde(rename = "device.revoked")]
    DeviceRevoked,
    #[serde(rename = "session.stepped_up")]
    SessionSteppedUp,
    #[serde(rename = "user.mfa_policy_changed")]
    UserMfaPolicyChanged,
    #[serde(rename = "mfa.reminder_sent")]
    MfaReminderSent,
}

impl EventType {
    pub const ALL: [EventType; 45] = [
        EventType::LoginSucceeded,
        EventType::LoginFailed,
        EventType::LoginLocked,
        EventType::MfaChallengeFailed,
        EventType::MfaReplayRefused,
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::MfaReset,
        EventType::RecoveryTokenGenerated,
        EventType::RecoveryTokenUsed,
        EventType::AccountPolicyChanged,
        EventType::SubAccountCreated,
        EventType::SubAccountPolicyChanged,
        EventType::SubAccountDeleted,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeleted,
        EventType::SessionRevoked,
        EventType::PasswordChanged,
        EventType::ReauthenticationFailed,
        EventType::RoleCreated,
        EventType::RoleUpdated,
        EventType::RoleDeleted,
        EventType::SsoLoginSucceeded,
        EventType::SsoLoginFailed,
        EventType::IdentityProviderCreated,
        EventType::IdentityProviderUpdated,
        EventType::IdentityProviderDeleted,
        EventType::SsoIdentityLinked,
        EventType::PasswordReset,
        EventType::PasswordResetRequested,
        EventType::InvitationCreated,
        EventType::InvitationResent,
        EventType::InvitationRevoked,
        EventType::InvitationAccepted,
        EventType::MailFailed,
        EventType::PasskeyAdded,
        EventType::PasskeyRemoved,
        EventType::PasskeyRenamed,
        EventType::PasskeyCounterRegressed,
        EventType::DeviceRemembered,
        EventType::DeviceRevoked,
        EventType::SessionSteppedUp,
        EventType::UserMfaPolicyChanged,
        EventType::MfaReminderSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LoginSucceeded => "login.succeeded",
            EventType::LoginFailed => "login.failed",
            EventType::LoginLocked => "login.locked",
            EventType::MfaChallengeFailed => "mfa.challenge_failed",
            EventType::MfaReplayRefused => "mfa.replay_refused",
            EventType::MfaEnabled => "mfa.enabled",
            EventType::MfaDisabled => "mfa.disabled",
            EventType::MfaReset => "mfa.reset",
            EventType::RecoveryTokenGenerated => "recovery_token.generated",
            EventType::RecoveryTokenUsed => "recovery_token.used",
            EventType::AccountPolicyChanged => "account.policy_changed",
            EventType::SubAccountCreated => "sub_account.created",
            EventType::SubAccountPolicyChanged => "sub_account.policy_changed",
            EventType::SubAccountDeleted => "sub_account.deleted",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeleted => "user.deleted",
            EventType::SessionRevoked => "session.revoked",
            EventType::PasswordChanged => "password.changed",
            EventType::ReauthenticationFailed => "reauthentication.failed",
            EventType::RoleCreated => "role.created",
            EventType::RoleUpdated => "role.updated",
            EventType::RoleDeleted => "role.deleted",
            EventType::SsoLoginSucceeded => "sso.login_succeeded",
            EventType::SsoLoginFailed => "sso.login_failed",
            EventType::IdentityProviderCreated => "identity_provider.created",
            EventType::IdentityProviderUpdated => "identity_provider.updated",
            EventType::IdentityProviderDeleted => "identity_provider.deleted",
            EventType::SsoIdentityLinked => "sso.identity_linked",
            EventType::PasswordReset => "password.reset",
            EventType::PasswordResetRequested => "password_reset.requested",
            EventType::InvitationCreated => "invitation.created",
            EventType::InvitationResent => "invitation.resent",
            EventType::InvitationRevoked => "invitation.revoked",
            EventType::InvitationAccepted => "invitation.accepted",
            EventType::MailFailed => "mail.failed",
            EventType::PasskeyAdded => "passkey.added",
            EventType::PasskeyRemoved => "passkey.removed",
            EventType::PasskeyRenamed => "passkey.renamed",
            EventType::PasskeyCounterRegressed => "passkey.counter_regressed",
            EventType::DeviceRemembered => "device.remembered",
            EventType::DeviceRevoked => "device.revoked",
            EventType::SessionSteppedUp => "session.stepped_up",
            EventType::UserMfaPolicyChanged => "user.mfa_policy_changed",
            EventType::MfaReminderSent => "mfa.reminder_sent",
        }
    }
}

pub const LOGIN_SUCCEEDED: EventType = EventType::LoginSucceeded;
pub const LOGIN_FAILED: EventType = EventType::LoginFailed;
pub const LOGIN_LOCKED: EventType = EventType::LoginLocked;
pub const MFA_CHALLENGE_FAILED: EventType = EventType::MfaChallengeFailed;
pub const MFA_REPLAY_REFUSED: EventType = EventType::MfaReplayRefused;
pub const MFA_ENABLED: EventType = EventType::MfaEnabled;
pub const MFA_DISABLED: EventType = EventType::MfaDisabled;
pub const MFA_RESET: EventType = EventType::MfaReset;
pub const RECOVERY_TOKEN_GENERATED: EventType = EventType::RecoveryTokenGenerated;
pub const RECOVERY_TOKEN_USED: EventType = EventType::RecoveryTokenUsed;
pub const ACCOUNT_POLICY_CHANGED: EventType = EventType::AccountPolicyChanged;
pub const SUB_ACCOUNT_CREATED: EventType = EventType::SubAccountCreated;
pub const SUB_ACCOUNT_POLICY_CHANGED: EventType = EventType::SubAccountPolicyChanged;
pub const SUB_ACCOUNT_DELETED: EventType = EventType::SubAccountDeleted;
pub const USER_CREATED: EventType = EventType::UserCreated;
pub const USER_UPDATED: EventType = EventType::UserUpdated;
pub const USER_DELETED: EventType = EventType::UserDeleted;
pub const SESSION_REVOKED: EventType = EventType::SessionRevoked;
pub const PASSWORD_CHANGED: EventType = EventType::PasswordChanged;
pub const REAUTHENTICATION_FAILED: EventType = EventType::ReauthenticationFailed;
pub const ROLE_CREATED: EventType = EventType::RoleCreated;
pub const ROLE_UPDATED: EventType = EventType::RoleUpdated;
pub const ROLE_DELETED: EventType = EventType::RoleDeleted;
pub const SSO_LOGIN_SUCCEEDED: EventType = EventType::SsoLoginSucceeded;
pub const SSO_LOGIN_FAILED: EventType = EventType::SsoLoginFailed;
pub const IDENTITY_PROVIDER_CREATED: EventType = EventType::IdentityProviderCreated;
pub const IDENTITY_PROVIDER_UPDATED: EventType = EventType::IdentityProviderUpdated;
pub const IDENTITY_PROVIDER_DELETED: EventType = EventType::IdentityProviderDeleted;
pub const SSO_IDENTITY_LINKED: EventType = EventType::SsoIdentityLinked;
pub const PASSWORD_RESET: EventType = EventType::PasswordReset;
pub const PASSWORD_RESET_REQUESTED: EventType = EventType::PasswordResetRequested;
pub const INVITATION_CREATED: EventType = EventType::InvitationCreated;
pub const INVITATION_RESENT: EventType = EventType::InvitationResent;
pub const INVITATION_REVOKED: EventType = EventType::InvitationRevoked;
pub const INVITATION_ACCEPTED: EventType = EventType::InvitationAccepted;
pub const MAIL_FAILED: EventType = EventType::MailFailed;
pub const PASSKEY_ADDED: EventType = EventType::PasskeyAdded;
pub const PASSKEY_REMOVED: EventType = EventType::PasskeyRemoved;
pub const PASSKEY_RENAMED: EventType = EventType::PasskeyRenamed;
pub const PASSKEY_COUNTER_REGRESSED: EventType = EventType::PasskeyCounterRegressed;
pub const DEVICE_REMEMBERED: EventType = EventType::DeviceRemembered;
pub const DEVICE_REVOKED: EventType = EventType::DeviceRevoked;
pub const SESSION_STEPPED_UP: EventType = EventType::SessionSteppedUp;
pub const USER_MFA_POLICY_CHANGED: EventType = EventType::UserMfaPolicyChanged;
pub const MFA_REMINDER_SENT: EventType = EventType::MfaReminderSent;

/// What happened, to whom, by whom.
pub struct Event<'a> {
    pub kind: EventType,
    pub account_id: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub target: Option<&'a str>,
    pub details: Value,
}

impl<'a> Event<'a> {
    /// An event a user caused on themselves.
    pub fn own(kind: EventType, account_id: &'a str, user_id: &'a str) -> Self {
        Event {
            kind,
            account_id: Some(account_id),
            actor: Some(user_id),
            target: Some(user_id),
            details: Value::Object(Default::default()),
        }
    }

    pub fn with(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip_through_serde() -> serde_json::Result<()> {
        for kind in EventType::ALL {
            let json = serde_json::to_string(&kind)?;
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<EventType>(&json)?, kind);
        }
        Ok(())
    }
}
