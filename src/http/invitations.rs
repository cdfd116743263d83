//! `/api/v1/invitations`: invite by email, the pending list, resend,
//! revoke, and the invitee's accept.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::Body;
use super::dto::{utc, LoginResponse, Page};
use super::extract::{AuthSession, RateLimited};
use super::problems::{AdminProblems, BodyProblems, QueryProblems};
use super::{ctx, NoStore, PageQuery, Paging, State};
use crate::domain::invitations::Invitation;
use crate::domain::invitations::{self, Acceptance, InvitationStatus, NewInvitation};
use crate::domain::policy::Action;
use crate::domain::validate::Checks;
use crate::domain::RoleRef;
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_invitation)
        .service(list_invitations)
        .service(accept_invitation)
        .service(resend_invitation)
        .service(revoke_invitation);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[schema(example = "ed@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "Ed Editor", min_length = 1, max_length = 200)]
    pub display_name: String,
    /// A built-in role or the id of one of the account's custom roles (the
    /// rules of creating a user apply).
    #[schema(value_type = String, example = "editor", max_length = 64)]
    pub role: RoleRef,
    pub sub_account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatusDto {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation as its account's administrators see it (never its link).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitationResponse {
    pub id: String,
    #[schema(example = "ed@example.com")]
    pub email: String,
    pub display_name: String,
    #[schema(value_type = String, example = "editor")]
    pub role: RoleRef,
    pub sub_account_id: Option<String>,
    pub status: InvitationStatusDto,
    pub created_at: DateTime<Utc>,
    /// When the current link stops working.
    pub expires_at: DateTime<Utc>,
    pub invited_by: Option<String>,
}

impl InvitationResponse {
    fn new(invitation: Invitation, now: chrono::NaiveDateTime) -> Self {
        let status = match InvitationStatus::of(&invitation, now) {
            InvitationStatus::Pending => InvitationStatusDto::Pending,
            InvitationStatus::Accepted => InvitationStatusDto::Accepted,
            InvitationStatus::Revoked => InvitationStatusDto::Revoked,
            InvitationStatus::Expired => InvitationStatusDto::Expired,
        };
        InvitationResponse {
            id: invitation.id,
            email: invitation.email,
            display_name: invitation.display_name,
            role: invitation.role,
            sub_account_id: invitation.sub_account_id,
            status,
            created_at: utc(invitation.created_at),
            expires_at: utc(invitation.expires_at),
            invited_by: invitation.invited_by,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the link's fragment (`#token=...`).
    #[schema(example = "lki_...", max_length = 200)]
    pub token: String,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    /// Replaces the name the inviter typed.
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
}

/// Invite someone by email (`users.manage`; the role rules of creating a
/// user). The answer is the same whatever the email: it never tells
/// whether the address has an account elsewhere.
#[utoipa::path(
    tag = "users",
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Invited; the link is on its way", body = InvitationResponse),
        (status = 429, description = "`too_many_attempts`: 3 invitation mails an hour to one address, 200 a day from one account"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/invitations")]
pub async fn create_invitation(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<CreateInvitationRequest>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageUsers)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let email = checks.email("email", &body.email);
    let display_name = checks.name("display_name", &body.display_name);
    checks.finish()?;
    let input = NewInvitation {
        email,
        display_name,
        role: body.role,
        sub_account_id: body.sub_account_id,
    };
    let ctx = ctx(&req, &state);
    let now = ctx.now;
    let config = state.config.clone();
    let invitation = state
        .db(move |conn| invitations::invite(conn, &config, &auth, input, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(InvitationResponse::new(invitation, now)))
}

/// The account's invitations, newest first, with their status.
#[utoipa::path(
    tag = "users",
    params(PageQuery),
    responses(
        (status = 200, description = "Invitations", body = Page<InvitationResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/invitations")]
pub async fn list_invitations(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<InvitationResponse>>> {
    let paging = Paging::from_query(query.page, query.per_page)?;
    let (limit, offset) = (paging.limit(), paging.offset());
    let now = state.clock.now_naive();
    let (items, total) = state
        .db(move |conn| invitations::list(conn, &auth, limit, offset))
        .await?;
    let items = items
        .into_iter()
        .map(|i| InvitationResponse::new(i, now))
        .collect();
    Ok(web::Json(paging.envelope(items, total)))
}

/// Send the invitation again with a new link (7 days from now); the old
/// link stops working.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 200, description = "Sent again", body = InvitationResponse),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: accepted or revoked"),
        (status = 429, description = "`too_many_attempts`: 3 invitation mails an hour to one address, 200 a day from one account"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/invitations/{id}/resend")]
pub async fn resend_invitation(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    path: web::Path<String>,
) -> ApiResult<web::Json<InvitationResponse>> {
    let ctx = ctx(&req, &state);
    let now = ctx.now;
    let config = state.config.clone();
    let id = path.into_inner();
    let invitation = state
        .db(move |conn| invitations::resend(conn, &config, &auth, &id, &ctx))
        .await?;
    Ok(web::Json(InvitationResponse::new(invitation, now)))
}

/// Revoke a pending invitation: its link stops working.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: accepted or revoked"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/invitations/{id}")]
pub async fn revoke_invitation(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = ctx(&req, &state);
    let id = path.into_inner();
    state
        .db(move |conn| invitations::revoke(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invitation with the link's token and a new password: the
/// user is created and signs in as the account's policy says (the
/// three-way login answer; an MFA-required invitee gets
/// `mfa_enrollment_required`).
#[utoipa::path(
    tag = "users",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Accepted; the login answer", body = LoginResponse),
        (status = 401, description = "`link_invalid`: no such link"),
        (status = 409, description = "`conflict`: the email has an account meanwhile"),
        (status = 410, description = "`link_expired`: used, replaced, revoked or expired"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<AcceptInvitationRequest>,
) -> ApiResult<NoStore<LoginResponse>> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    checks.password("password", &body.password);
    let display_name = body
        .display_name
        .as_deref()
        .map(|name| checks.name("display_name", name));
    checks.finish()?;
    let password_hash = state.hasher.hash(body.password).await?;
    let ctx = ctx(&req, &state);
    let keys = state.keys.clone();
    let config = state.config.clone();
    let input = Acceptance {
        token: body.token,
        password_hash,
        display_name,
    };
    let outcome = state
        .db(move |conn| invitations::accept(conn, &keys, &config, input, &ctx))
        .await?;
    Ok(NoStore::ok(LoginResponse::from(outcome)))
}
