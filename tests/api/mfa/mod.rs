//! `/api/v1/me/mfa*` and the second login step `/api/v1/sessions/mfa`.
//! By subject: enrollment, the second step, the recovery token, disabling.

mod disable;
mod enrollment;
mod recovery;
mod second_step;

use actix_web::http::Method;

use crate::support::*;

/// Sends the same body 20 times at once; returns the statuses.
pub async fn race(app: &TestApp, path: &str, bodies: Vec<serde_json::Value>) -> Vec<u16> {
    let srv = actix_web::test::init_service(latchkey::app::build(app.state.clone())).await;
    let calls = bodies.into_iter().map(|body| {
        let req = build_request(Method::POST, path, None, Some(body)).to_request();
        actix_web::test::call_service(&srv, req)
    });
    futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect()
}

pub async fn challenges(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        out.push(r.body["mfa_token"].as_str().unwrap().to_string());
    }
    out
}
