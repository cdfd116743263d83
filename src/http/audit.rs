//! `/api/v1/audit-events`: the account's audit log.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, QueryProblems};
use super::{Paging, State};
use crate::domain::audit;
use crate::domain::policy::Action;
use crate::domain::AuditFilter;
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_audit_events);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events whose actor or target is this user.
    pub user_id: Option<uuid::Uuid>,
    /// One event type, e.g. `mfa.reset`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub type_: Option<audit::EventType>,
    /// Events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

/// Security-relevant events of the account, newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Events", body = Page<AuditEventResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: State,
    auth: AuthSession,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEventResponse>>> {
    auth.may(Action::ViewAudit)?;
    let query = query.into_inner();
    let paging = Paging::from_query(query.page, query.per_page)?;
    let filter = AuditFilter {
        user_id: query.user_id.map(|id| id.to_string()),
        event_type: query.type_.map(|t| t.as_str().to_string()),
        since: query.since.map(|t| t.naive_utc()),
        until: query.until.map(|t| t.naive_utc()),
    };
    let (limit, offset) = (paging.limit(), paging.offset());
    let (items, total) = state
        .db(move |conn| crate::domain::admin::audit_events(conn, &auth, &filter, limit, offset))
        .await?;
    Ok(web::Json(paging.envelope(
        items.into_iter().map(Into::into).collect(),
        total,
    )))
}
