//! `/api/v1/identity-providers`, `/api/v1/sso/*` and `/api/v1/sessions/sso`
//! against a scripted provider whose ID tokens the tests sign (see `idp`):
//! every forgery refused, single use of flows and login codes, linking
//! inside the account only, and Latchkey's MFA policy on top of SSO.

use std::collections::HashMap;

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::idp::{MockIdp, CLIENT_ID, CLIENT_SECRET};
use crate::support::*;

pub const APP_CALLBACK: &str = "http://127.0.0.1:5173/sso/callback";

/// Connects `issuer` to the admin's account; `extra` fields override.
pub async fn connect(app: &TestApp, admin: &Session, issuer: &str, extra: Value) -> String {
    let mut body = json!({
        "name": "Corp IdP",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "allowed_redirect_uris": [APP_CALLBACK],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/api/v1/identity-providers", Some(&admin.token), body)
        .await
        .ok(201)
        .id()
}

/// `PATCH /api/v1/identity-providers/{provider}` with `body` as `token`'s
/// holder: it must succeed.
pub async fn edit_provider(app: &TestApp, token: &str, provider: &str, body: Value) {
    app.patch(
        &format!("/api/v1/identity-providers/{provider}"),
        token,
        body,
    )
    .await
    .ok(200);
}

/// The query of a redirect's `Location`.
pub fn location_query(r: &Resp) -> (String, HashMap<String, String>) {
    assert_eq!(r.status, 302, "expected a redirect: {}", r.text);
    let location = r.headers.get("location").unwrap().to_str().unwrap();
    let url = openidconnect::url::Url::parse(location).unwrap();
    let query = url.query_pairs().into_owned().collect();
    let mut base = url.clone();
    base.set_query(None);
    (base.to_string(), query)
}

/// `GET .../authorize`: the provider's query (state, nonce, PKCE challenge).
pub async fn authorize(app: &TestApp, provider: &str) -> HashMap<String, String> {
    let path = format!(
        "/api/v1/sso/{provider}/authorize?redirect_uri={}&state=client-xyz",
        percent(APP_CALLBACK)
    );
    let r = app.call(Method::GET, &path, None, None).await;
    location_query(&r).1
}

pub fn percent(s: &str) -> String {
    openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn callback(app: &TestApp, state: &str) -> HashMap<String, String> {
    let path = format!(
        "/api/v1/sso/callback?code=idp-code&state={}",
        percent(state)
    );
    let r = app.call(Method::GET, &path, None, None).await;
    let (base, query) = location_query(&r);
    assert_eq!(base, APP_CALLBACK);
    assert_eq!(
        query["state"], "client-xyz",
        "the client's state comes back"
    );
    query
}

/// One whole SSO round: authorize, the provider answers with the ID token
/// that `token(claims_with_nonce)` makes, callback. The client's query.
pub async fn round(
    app: &TestApp,
    idp: &MockIdp,
    provider: &str,
    token: impl FnOnce(&str) -> String,
) -> HashMap<String, String> {
    let q = authorize(app, provider).await;
    idp.answer(token(&q["nonce"]));
    callback(app, &q["state"]).await
}

pub fn now(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

pub async fn exchange(app: &TestApp, code: &str) -> Resp {
    app.post("/api/v1/sessions/sso", None, json!({"login_code": code}))
        .await
}

/// [`exchange`], then the password proof a user with a password owes on
/// the first sign-in of a subject (`link_required`): the login answer.
pub async fn exchange_linking(app: &TestApp, code: &str) -> Resp {
    let r = exchange(app, code).await.ok(200);
    if r.body["status"] != "link_required" {
        return r;
    }
    app.post(
        "/api/v1/sessions/sso/link",
        None,
        json!({"link_token": r.body["link_token"], "password": PASSWORD}),
    )
    .await
}

/// The `amr` and `aal` of the current session of `token`.
pub async fn assurance(app: &TestApp, token: &str) -> (Value, String) {
    let list = app.get("/api/v1/me/sessions", token).await.ok(200);
    let current = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    (
        current["amr"].clone(),
        current["aal"].as_str().unwrap().into(),
    )
}

mod flow;
mod linking;
mod native;
mod providers;
