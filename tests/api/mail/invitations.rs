//! Invitations: by mail, accepted with a password into the policy's login
//! answer; the role rules of creating a user; resend kills the old link;
//! revoked, used and expired links are 410; another tenant's is 404.

use serde_json::json;

use super::{mails_to, only_new_mail, token_of};
use crate::support::{mfa_admin, TestApp, PASSWORD};

async fn accept(app: &TestApp, token: &str) -> crate::support::Resp {
    app.post(
        "/api/v1/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await
}

#[actix_web::test]
async fn an_invitee_accepts_with_a_password_and_signs_in_by_the_policy() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    let r = app
        .post(
            "/api/v1/invitations",
            Some(&admin.token),
            json!({"email": "Ed@Example.com", "display_name": "Ed <Editor>", "role": "editor"}),
        )
        .await
        .ok(201);
    assert_eq!(r.body["email"], "ed@example.com");
    assert_eq!(r.body["status"], "pending");
    assert!(r.body.get("token").is_none());
    let mail = only_new_mail(&app, &smtp, "ed@example.com", 0).await;
    assert_eq!(mail.subject, "ann invited you to Acme ann@example.com");
    assert!(mail.text.contains("as editor"));
    assert!(mail.html.as_deref().unwrap().contains("Ed &lt;Editor&gt;"));
    let token = token_of(&mail);
    assert!(mail
        .link()
        .unwrap()
        .contains("/accept-invitation#token=lki_"));
    let r = accept(&app, &token).await.ok(200);
    assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    assert_eq!(r.body["user"]["role"], "editor");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    app.login("ed@example.com").await;
    accept(&app, &token).await.problem(410, "link_expired");
    accept(&app, "lki_made_up")
        .await
        .problem(401, "link_invalid");
    let list = app.get("/api/v1/invitations", &admin.token).await.ok(200);
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["items"][0]["status"], "accepted");
    let events = app
        .get(
            "/api/v1/audit-events?type=invitation.accepted",
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
}

#[actix_web::test]
async fn a_required_invitee_must_enroll_first() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    app.post(
        "/api/v1/invitations",
        Some(&admin.token),
        json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
    )
    .await
    .ok(201);
    let token = token_of(&only_new_mail(&app, &smtp, "ed@example.com", 0).await);
    let r = accept(&app, &token).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required", "{}", r.text);
    let (secret, _, _) = app
        .enroll(r.body["enrollment_token"].as_str().unwrap(), None)
        .await;
    app.login_mfa("ed@example.com", &secret).await;
}

#[actix_web::test]
async fn the_role_rules_of_creating_a_user_apply() {
    let (app, _smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex"}),
        )
        .await
        .id();
    // A sub-account's users hold client roles only.
    app.post(
        "/api/v1/invitations",
        Some(&admin.token),
        json!({"email": "gus@globex.com", "display_name": "Gus", "role": "manager", "sub_account_id": sub}),
    )
    .await
    .problem(422, "validation_failed");
    // A users.manage holder invites no one above themself.
    let role = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Hiring", "permissions": ["users.view", "users.manage"]}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "hr@example.com", &role, None).await;
    let hr = app.login("hr@example.com").await;
    app.post(
        "/api/v1/invitations",
        Some(&hr.token),
        json!({"email": "boss@example.com", "display_name": "Boss", "role": "administrator"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        "/api/v1/invitations",
        Some(&hr.token),
        json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
    )
    .await
    .ok(201);
    // Without users.manage: 403; without a session: 401.
    app.create_user(&admin, "ro@example.com", "read_only", None)
        .await;
    let ro = app.login("ro@example.com").await;
    app.get("/api/v1/invitations", &ro.token)
        .await
        .problem(403, "forbidden");
    app.post(
        "/api/v1/invitations",
        None,
        json!({"email": "x@example.com", "display_name": "X", "role": "editor"}),
    )
    .await
    .problem(401, "unauthorized");
}

#[actix_web::test]
async fn resend_kills_the_old_link_and_revoke_and_expiry_end_it() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    let id = app
        .post(
            "/api/v1/invitations",
            Some(&admin.token),
            json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
        )
        .await
        .ok(201)
        .id();
    let first = token_of(&only_new_mail(&app, &smtp, "ed@example.com", 0).await);
    app.post(
        &format!("/api/v1/invitations/{id}/resend"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(200);
    let second = token_of(&only_new_mail(&app, &smtp, "ed@example.com", 1).await);
    assert_ne!(first, second);
    // A replaced link is dead.
    accept(&app, &first).await.problem(410, "link_expired");
    // Expired after 7 days.
    app.clock.advance(7 * 24 * 3600 + 1);
    accept(&app, &second).await.problem(410, "link_expired");
    let admin = app.login("ann@example.com").await;
    let list = app.get("/api/v1/invitations", &admin.token).await.ok(200);
    assert_eq!(list.body["items"][0]["status"], "expired");
    // A resend revives it; a revoke ends it.
    app.post(
        &format!("/api/v1/invitations/{id}/resend"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(200);
    let third = token_of(&only_new_mail(&app, &smtp, "ed@example.com", 2).await);
    app.delete(&format!("/api/v1/invitations/{id}"), &admin.token)
        .await
        .ok(204);
    accept(&app, &third).await.problem(410, "link_expired");
    app.delete(&format!("/api/v1/invitations/{id}"), &admin.token)
        .await
        .problem(409, "conflict");
    // Another account's administrator cannot see or touch it.
    let other = app.signup_and_login("bob@example.com").await;
    app.post(
        &format!("/api/v1/invitations/{id}/resend"),
        Some(&other.token),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    app.delete(&format!("/api/v1/invitations/{id}"), &other.token)
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.get("/api/v1/invitations", &other.token).await.body["total"],
        0
    );
    assert_eq!(mails_to(&app, &smtp, "ed@example.com").await.len(), 3);
}

#[actix_web::test]
async fn an_email_with_an_account_elsewhere_gets_the_same_answer_and_cannot_accept() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    app.signup("ed@example.com").await;
    let r = app
        .post(
            "/api/v1/invitations",
            Some(&admin.token),
            json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
        )
        .await
        .ok(201);
    assert_eq!(r.body["status"], "pending");
    let token = token_of(&only_new_mail(&app, &smtp, "ed@example.com", 0).await);
    accept(&app, &token).await.problem(409, "conflict");
    // Nothing was spent: the invitation stays pending.
    let list = app.get("/api/v1/invitations", &admin.token).await.ok(200);
    assert_eq!(list.body["items"][0]["status"], "pending");
}

/// An invitation gives no more than its inviter could give when it is
/// accepted: an inviter demoted (or gone) since, or the role grown past
/// what they held, makes the link dead (410).
#[actix_web::test]
async fn accepting_never_gives_more_than_the_inviter_holds_then() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    let invite = |token: String, email: &'static str, role: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/invitations",
                Some(&token),
                json!({"email": email, "display_name": "X", "role": role}),
            )
            .await
            .ok(201)
            .id()
        }
    };
    // A second administrator invites an administrator, then is demoted.
    let bob_id = app
        .create_user(&admin, "bob@example.com", "administrator", None)
        .await;
    let bob = app.login("bob@example.com").await;
    invite(bob.token.clone(), "alt@evil.test", "administrator".into()).await;
    let alt = token_of(&only_new_mail(&app, &smtp, "alt@evil.test", 0).await);
    app.patch(
        &format!("/api/v1/users/{bob_id}"),
        &admin.token,
        json!({"role": "editor"}),
    )
    .await
    .ok(200);
    accept(&app, &alt).await.problem(410, "link_expired");
    // A custom role widened past what its inviter held.
    let support = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Support", "permissions": ["users.view"]}),
        )
        .await
        .ok(201)
        .id();
    let hiring = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Hiring", "permissions": ["users.view", "users.manage"]}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "hr@example.com", &hiring, None)
        .await;
    let hr = app.login("hr@example.com").await;
    invite(hr.token.clone(), "sam@example.com", support.clone()).await;
    let sam = token_of(&only_new_mail(&app, &smtp, "sam@example.com", 0).await);
    app.patch(
        &format!("/api/v1/roles/{support}"),
        &admin.token,
        json!({"permissions": ["users.view", "roles.manage"]}),
    )
    .await
    .ok(200);
    accept(&app, &sam).await.problem(410, "link_expired");
    // The mail names a custom role by its name.
    invite(hr.token.clone(), "tia@example.com", hiring.clone()).await;
    let mail = only_new_mail(&app, &smtp, "tia@example.com", 0).await;
    assert!(mail.text.contains("as Hiring"), "{}", mail.text);
    accept(&app, &token_of(&mail)).await.ok(200);
}

#[actix_web::test]
async fn invitation_mail_to_one_address_is_limited() {
    let (app, _smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    let id = app
        .post(
            "/api/v1/invitations",
            Some(&admin.token),
            json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
        )
        .await
        .ok(201)
        .id();
    for _ in 0..2 {
        app.post(
            &format!("/api/v1/invitations/{id}/resend"),
            Some(&admin.token),
            json!({}),
        )
        .await
        .ok(200);
    }
    let r = app
        .post(
            &format!("/api/v1/invitations/{id}/resend"),
            Some(&admin.token),
            json!({}),
        )
        .await
        .problem(429, "too_many_attempts");
    assert!(r.retry_after() > 0);
    app.post(
        "/api/v1/invitations",
        Some(&admin.token),
        json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor"}),
    )
    .await
    .problem(429, "too_many_attempts");
    app.clock.advance(3601);
    let admin = app.login("ann@example.com").await;
    app.post(
        &format!("/api/v1/invitations/{id}/resend"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(200);
}
