//! The messages' words, in `templates/mail/` (compiled in, so the binary
//! needs no files). `.html` templates are auto-escaped by minijinja: a
//! display name holding HTML stays text. Text parts are not HTML and are
//! not escaped.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::{Deserialize, Serialize};

use super::MailError;

/// The kinds of message, each one text and one HTML template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Verified sign-up: the link that creates the account.
    SignupVerify,
    /// Verified sign-up with an address that has an account already.
    SignupTaken,
    Invitation,
    PasswordReset,
    /// A password reset asked for a user who signs in only through SSO.
    PasswordResetSso,
    /// A security notice; `Vars::event` says which.
    Notice,
    /// "Require MFA" has a deadline coming and the user has no MFA yet
    /// (7, 3 and 1 days before).
    MfaReminder,
}

impl Template {
    pub const ALL: [Template; 7] = [
        Template::SignupVerify,
        Template::SignupTaken,
        Template::Invitation,
        Template::PasswordReset,
        Template::PasswordResetSso,
        Template::Notice,
        Template::MfaReminder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::SignupVerify => "signup_verify",
            Template::SignupTaken => "signup_taken",
            Template::Invitation => "invitation",
            Template::PasswordReset => "password_reset",
            Template::PasswordResetSso => "password_reset_sso",
            Template::Notice => "notice",
            Template::MfaReminder => "mfa_reminder",
        }
    }

    pub fn from_name(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }

    fn sources(self) -> (&'static str, &'static str) {
        macro_rules! pair {
            ($name:literal) => {
                (
                    include_str!(concat!("../../templates/mail/", $name, ".txt")),
                    include_str!(concat!("../../templates/mail/", $name, ".html")),
                )
            };
        }
        match self {
            Template::SignupVerify => pair!("signup_verify"),
            Template::SignupTaken => pair!("signup_taken"),
            Template::Invitation => pair!("invitation"),
            Template::PasswordReset => pair!("password_reset"),
            Template::PasswordResetSso => pair!("password_reset_sso"),
            Template::Notice => pair!("notice"),
            Template::MfaReminder => pair!("mfa_reminder"),
        }
    }
}

/// What a template may use. Unused fields stay empty.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Vars {
    /// The account (tenant) the message is about.
    pub account_name: String,
    /// The recipient's display name.
    pub display_name: String,
    /// The link to follow (with its token in the fragment).
    pub link: String,
    /// How long the link works, in words ("30 minutes").
    pub expires: String,
    /// The notice's event (`mfa_enabled`, ...).
    pub event: String,
    /// When it happened, in UTC.
    pub when: String,
    pub ip: String,
    pub browser: String,
    /// Who did it or sent it (an administrator's display name).
    pub actor: String,
    /// The role an invitation gives.
    pub role: String,
}

/// A message's subject and two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template(
            "layout.html",
            include_str!("../../templates/mail/layout.html"),
        )
        .expect("layout.html parses");
        env.add_template(
            "layout.txt",
            include_str!("../../templates/mail/layout.txt"),
        )
        .expect("layout.txt parses");
        for template in Template::ALL {
            let (text, html) = template.sources();
            let name = template.name();
            env.add_template_owned(format!("{name}.txt"), text)
                .expect("text template parses");
            env.add_template_owned(format!("{name}.html"), html)
                .expect("HTML template parses");
        }
        env
    })
}

/// Renders `template`: the subject is the text template's `subject` block
/// (on one line), the bodies its two templates.
pub fn render(template: Template, vars: &Vars) -> Result<Rendered, MailError> {
    let env = environment();
    let fail = |e: minijinja::Error| MailError(format!("template {}: {e:#}", template.name()));
    let text = env
        .get_template(&format!("{}.txt", template.name()))
        .map_err(fail)?;
    let ctx = minijinja::Value::from(minijinja::value::Serde(vars));
    let mut captured = text.render_captured(ctx.clone()).map_err(fail)?;
    let subject = captured
        .with_state_mut(|state| state.render_block("subject"))
        .map_err(fail)?;
    let text = captured.into_output();
    let html = env
        .get_template(&format!("{}.html", template.name()))
        .map_err(fail)?
        .render(ctx)
        .map_err(fail)?;
    Ok(Rendered {
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            account_name: "Acme <b>".into(),
            display_name: "<script>alert(1)</script>".into(),
            link: "https://app.example/reset#token=abc".into(),
            expires: "30 minutes".into(),
            event: "mfa_reset".into(),
            when: "2026-12-04 14:32 UTC".into(),
            ip: "203.0.113.9".into(),
            browser: "Firefox".into(),
            actor: "Ann <img>".into(),
            role: "editor".into(),
        }
    }

    #[test]
    fn every_template_renders_and_the_html_part_escapes_what_users_typed() {
        for template in Template::ALL {
            let r = render(template, &vars()).unwrap();
            assert!(!r.subject.is_empty(), "{template:?}");
            assert!(!r.subject.contains('\n'));
            assert!(!r.html.contains("<script>"), "{template:?}: {}", r.html);
            assert!(!r.html.contains("<img>"), "{template:?}");
            assert!(!r.html.contains("Acme <b>"), "{template:?}");
        }
        let invite = render(Template::Invitation, &vars()).unwrap();
        assert!(invite.text.contains("https://app.example/reset#token=abc"));
        assert!(invite.html.contains("Acme &lt;b&gt;"));
    }

    #[test]
    fn each_notice_names_what_when_where_and_what_to_do() {
        for event in [
            "mfa_enabled",
            "mfa_disabled",
            "mfa_reset",
            "recovery_token_used",
            "recovery_token_generated",
            "password_changed",
            "password_reset",
            "sign_in_locked",
            "identity_linked",
        ] {
            let r = render(
                Template::Notice,
                &Vars {
                    event: event.into(),
                    ..vars()
                },
            )
            .unwrap();
            for part in [&r.text, &r.html] {
                assert!(part.contains("2026-12-04 14:32 UTC"), "{event}");
                assert!(part.contains("203.0.113.9"), "{event}");
                assert!(part.contains("Firefox"), "{event}");
                assert!(part.contains("If this was not you"), "{event}: {part}");
            }
            assert!(!r.subject.contains("{{"), "{event}");
            assert!(!r.text.contains("UNKNOWN EVENT"), "{event}");
        }
        let reset = render(Template::Notice, &vars()).unwrap();
        assert!(
            reset.text.contains("Ann <img>"),
            "the administrator is named"
        );
    }
}
