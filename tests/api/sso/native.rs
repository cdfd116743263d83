//! Native apps (RFC 8252): private-use and loopback redirect URIs, the
//! app's own PKCE pair.

use actix_web::http::Method;
use serde_json::json;

use super::*;
use crate::idp::MockIdp;

/// Native apps (RFC 8252): a private-use scheme or loopback redirect URI,
/// and the app's own PKCE pair on the login code, so that another app that
/// intercepts the redirect cannot spend it.
#[actix_web::test]
async fn native_apps_bind_the_login_code_to_their_own_pkce_pair() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let native = "com.example.app:/oauth2redirect";
    let provider = connect(
        &app,
        &admin,
        &idp.issuer,
        json!({"allowed_redirect_uris": [native, "http://127.0.0.1/cb"], "jit_provisioning": true}),
    )
    .await;
    // A verifier and its S256 challenge (computed independently).
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcM";
    let challenge = "_s3UeMjgKZf89VnMAezJaZQjB_Z9oJAoRRxytQPktDg";
    let authorize = |redirect: &str, pkce: bool| {
        let mut path = format!(
            "/api/v1/sso/{provider}/authorize?redirect_uri={}",
            percent(redirect)
        );
        if pkce {
            path.push_str(&format!(
                "&code_challenge={challenge}&code_challenge_method=S256"
            ));
        }
        path
    };
    // Without its own challenge a native app is refused.
    for redirect in [native, "http://127.0.0.1:53124/cb"] {
        let r = app
            .call(Method::GET, &authorize(redirect, false), None, None)
            .await;
        let r = r.problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "code_challenge");
    }
    let r = app
        .call(
            Method::GET,
            &format!(
                "{}&code_challenge={challenge}&code_challenge_method=plain",
                authorize(native, false)
            ),
            None,
            None,
        )
        .await;
    r.problem(422, "validation_failed");
    // A loopback port is any port; the path must match.
    let r = app
        .call(
            Method::GET,
            &authorize("http://127.0.0.1:53124/other", true),
            None,
            None,
        )
        .await;
    r.problem(422, "validation_failed");
    for redirect in [native, "http://127.0.0.1:53124/cb"] {
        let r = app
            .call(Method::GET, &authorize(redirect, true), None, None)
            .await;
        let q = location_query(&r).1;
        idp.answer(idp.key.sign(
            "k1",
            &idp.claims("sub-new", "new@corp.example", &q["nonce"], now(&app)),
        ));
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/sso/callback?code=c&state={}", percent(&q["state"])),
                None,
                None,
            )
            .await;
        let (base, back) = location_query(&r);
        assert_eq!(base, redirect, "back to the very URI the app asked for");
        let code = back["login_code"].clone();
        // The interceptor has the code but not the verifier.
        for body in [
            json!({"login_code": code}),
            json!({"login_code": code, "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcN"}),
        ] {
            app.post("/api/v1/sessions/sso", None, body)
                .await
                .problem(401, "invalid_credentials");
        }
        let r = app
            .post(
                "/api/v1/sessions/sso",
                None,
                json!({"login_code": code, "code_verifier": verifier}),
            )
            .await
            .ok(200);
        assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%code_verifier_mismatch%'"),
        4
    );
    // Private-use schemes in reverse-DNS form only.
    for bad in ["myapp:/cb", "javascript:alert(1)"] {
        app.patch(
            &format!("/api/v1/identity-providers/{provider}"),
            &admin.token,
            json!({"allowed_redirect_uris": [bad]}),
        )
        .await
        .problem(422, "validation_failed");
    }
}
