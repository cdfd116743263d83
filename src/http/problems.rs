//! Error responses shared by many routes, for the OpenAPI document: each set
//! is listed once here and named in `#[utoipa::path(responses(...))]`. Their
//! `Problem` body is added with every other error's by
//! `openapi::with_problem_bodies`.

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::RefOr;
use utoipa::IntoResponses;

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .build()
        .into()
}

fn set(entries: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    entries
        .iter()
        .map(|(status, description)| (status.to_string(), problem(description)))
        .collect()
}

/// 400, 413, 415, 422: what a JSON request body can get wrong.
pub struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            ("400", "`bad_request`: malformed JSON or no body"),
            ("413", "`payload_too_large`: body over 64 KiB"),
            ("415", "`unsupported_media_type`: not `application/json`"),
            (
                "422",
                "`validation_failed`: `errors` names each invalid field",
            ),
        ])
    }
}

/// 422: an invalid query parameter.
pub struct QueryProblems;

impl IntoResponses for QueryProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("422", "`validation_failed`: an invalid query parameter")])
    }
}

/// 401, 403 of routes for any signed-in user.
pub struct SessionProblems;

impl IntoResponses for SessionProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            (
                "401",
                "`unauthorized`: missing, invalid, expired or revoked access token",
            ),
            (
                "403",
                "`mfa_enrollment_required`: an enrollment token was sent",
            ),
        ])
    }
}

/// 401, 403 of routes limited by role.
pub struct AdminProblems;

impl IntoResponses for AdminProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            (
                "401",
                "`unauthorized`: missing, invalid, expired or revoked access token",
            ),
            (
                "403",
                "`forbidden` (role), `mfa_enrollment_required`, or for a change that needs a step-up (others' MFA, roles, identity providers, MFA policies): `step_up_required` (no factor proven in this session within 10 minutes: `POST /api/v1/sessions/current/step-up`, then retry) or `mfa_required_for_action` (the actor has no MFA to prove)",
            ),
        ])
    }
}
