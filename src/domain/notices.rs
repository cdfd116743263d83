//! Security notices: the mail that lets a victim notice an attack. Each
//! audited event the contract lists (MFA enabled, disabled or reset, a
//! recovery token used or replaced, a password changed or reset, sign-in
//! locked, an identity provider linked) queues one to the user it
//! happened to, in the same transaction, from `audit::record`: no code
//! path records such an event without its notice.

use diesel::QueryResult;

use super::events::{Event, EventType};
use super::outbox::{self, Outgoing};
use super::Ctx;
use crate::mail::{Template, Vars};
use crate::store::accounts as account_store;
use crate::store::users as user_store;
use crate::store::DbConn;

/// The notice an event gets (the `event` of the notice template), if any.
pub fn notice_for(event: &Event<'_>) -> Option<&'static str> {
    let locked = || {
        event
            .details
            .get("locked_until")
            .is_some_and(|until| !until.is_null())
    };
    match event.kind {
        EventType::MfaEnabled => Some("mfa_enabled"),
        EventType::MfaDisabled => Some("mfa_disabled"),
        EventType::MfaReset => Some("mfa_reset"),
        EventType::RecoveryTokenUsed => Some("recovery_token_used"),
        // The first token comes with enrollment, whose notice says enough.
        EventType::RecoveryTokenGenerated if event.details["with_enrollment"] != true => {
            Some("recovery_token_generated")
        }
        EventType::PasswordChanged => Some("password_changed"),
        EventType::PasswordReset => Some("password_reset"),
        // Once per run of wrong passwords: the first lock.
        EventType::LoginLocked if event.details["first_lock"] == true => Some("sign_in_locked"),
        // A wrong (or replayed) second factor that started a lock.
        EventType::MfaChallengeFailed | EventType::MfaReplayRefused if locked() => {
            Some("sign_in_locked")
        }
        EventType::SsoIdentityLinked => Some("identity_linked"),
        EventType::PasskeyAdded => Some("passkey_added"),
        EventType::PasskeyRemoved => Some("passkey_removed"),
        _ => None,
    }
}

/// Queues the notice of `event`, if it gets one, to its target user.
/// Inside the transaction recording the event.
pub fn queue_for(conn: &mut DbConn, ctx: &Ctx, event: &Event<'_>) -> QueryResult<()> {
    let (Some(name), Some(target)) = (notice_for(event), event.target) else {
        return Ok(());
    };
    let Some(user) = user_store::find(conn, target)? else {
        return Ok(());
    };
    let account_name = account_store::find(conn, &user.account_id)?
        .map(|a| a.name)
        .unwrap_or_default();
    let actor = match event.kind {
        EventType::MfaReset => match event.actor {
            Some(id) => user_store::find(conn, id)?
                .map(|a| format!("An administrator, {},", a.display_name))
                .unwrap_or_else(|| "An administrator".into()),
            None => "Your service operator".into(),
        },
        EventType::PasskeyAdded | EventType::PasskeyRemoved => event.details["name"]
            .as_str()
            .unwrap_or("a passkey")
            .to_string(),
        EventType::SsoIdentityLinked => event.details["provider_name"]
            .as_str()
            .unwrap_or("an identity provider")
            .to_string(),
        _ => String::new(),
    };
    let vars = Vars {
        account_name,
        display_name: user.display_name.clone(),
        event: name.into(),
        when: outbox::when(ctx.now),
        ip: ctx.ip.clone().unwrap_or_else(|| "unknown".into()),
        browser: ctx
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(200).collect())
            .unwrap_or_else(|| "unknown".into()),
        actor,
        ..Vars::default()
    };
    outbox::queue_notice(
        conn,
        ctx,
        Outgoing {
            template: Template::Notice,
            to: &user.email,
            account_id: Some(&user.account_id),
            vars,
            link: None,
        },
    )
}
