//! The OpenAPI document: info, tags and the `bearer` security scheme. Paths
//! are collected from the handlers by `utoipa-actix-web` (see `app.rs`), then
//! [`with_problem_bodies`] gives every error answer its body.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "Multi-factor authentication service: password login, TOTP second factor, one-time recovery tokens, Require-MFA policies per account and sub-account.\n\nErrors are RFC 9457 `application/problem+json` with a stable `code`.",
        license(name = "MIT", identifier = "MIT")
    ),
    modifiers(&BearerScheme),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        crate::domain::audit::EventType
    )),
    tags(
        (name = "sessions", description = "Login (password, then second factor), refresh, logout"),
        (name = "me", description = "The signed-in user"),
        (name = "mfa", description = "Self-service MFA: TOTP enrollment, disable, recovery token"),
        (name = "account", description = "Sign-up and the account's settings and MFA policy"),
        (name = "users", description = "User administration and Reset MFA"),
        (name = "sub-accounts", description = "Client organizations with their own MFA policy"),
        (name = "audit", description = "Audit log"),
        (name = "roles", description = "Named permissions and the account's custom roles"),
        (name = "sso", description = "Single sign-on (OpenID Connect) with Latchkey's MFA policy on top"),
        (name = "operations", description = "Health, readiness, metrics, JWKS")
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "Access token from `POST /api/v1/sessions` (or an enrollment token where documented)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Every 4xx and 5xx answer is an RFC 9457 problem (`error.rs` renders them
/// all), so handlers list only the status and what it means, and this one
/// place gives each such answer the `Problem` body as `application/problem+json`.
pub fn with_problem_bodies(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(response)) = (is_error, response) {
                    response.content.clear();
                    response.content.insert(
                        "application/problem+json".into(),
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    );
                }
            }
        }
    }
    api
}
