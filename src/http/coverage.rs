//! `GET /api/v1/mfa-coverage`: MFA coverage per scope, as JSON or (with
//! `Accept: text/csv`) CSV. The counting is `domain::coverage`'s.

use actix_web::http::header::{self, ContentType};
use actix_web::{get, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::utc;
use super::extract::AuthSession;
use super::problems::AdminProblems;
use super::State;
use crate::domain::coverage::{self, Row, Scope};
use crate::domain::MfaMethods;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(mfa_coverage);
}

/// Which users a row counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoverageScope {
    /// The account's own users (not those of its sub-accounts).
    Account,
    SubAccount,
}

/// Users with each method (a user with both TOTP and a passkey counts in
/// both).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ByMethod {
    pub totp: i64,
    pub passkey: i64,
    /// Linked to an identity provider trusted for MFA.
    pub sso_mfa: i64,
}

/// One scope's coverage. Disabled users are not counted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoverageRow {
    pub scope: CoverageScope,
    /// The sub-account (null for the account's own users).
    pub sub_account_id: Option<String>,
    pub name: String,
    pub require_mfa: bool,
    pub require_mfa_from: Option<DateTime<Utc>>,
    /// What counts here (the stricter of the account's and the
    /// sub-account's).
    pub mfa_methods: MfaMethods,
    pub users: i64,
    /// With MFA of their own.
    pub enrolled: i64,
    pub by_method: ByMethod,
    /// Required, without MFA, before the deadline.
    pub due: i64,
    /// Their deadline (null when none are due).
    pub due_at: Option<DateTime<Utc>>,
    /// Required, without MFA, past the deadline or required at once: they
    /// enroll at their next sign-in.
    pub overdue: i64,
}

impl From<Row> for CoverageRow {
    fn from(r: Row) -> Self {
        CoverageRow {
            scope: match r.scope {
                Scope::Account => CoverageScope::Account,
                Scope::SubAccount => CoverageScope::SubAccount,
            },
            sub_account_id: r.sub_account_id,
            name: r.name,
            require_mfa: r.require_mfa,
            require_mfa_from: r.require_mfa_from.map(utc),
            mfa_methods: r.mfa_methods,
            users: r.counts.users,
            enrolled: r.counts.enrolled,
            by_method: ByMethod {
                totp: r.counts.totp,
                passkey: r.counts.passkey,
                sso_mfa: r.counts.sso_mfa,
            },
            due: r.due,
            due_at: r.due_at.map(utc),
            overdue: r.overdue,
        }
    }
}

/// The report: one row per scope, the account's own users first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoverageResponse {
    pub generated_at: DateTime<Utc>,
    pub items: Vec<CoverageRow>,
}

const CSV_HEADER: [&str; 14] = [
    "scope",
    "sub_account_id",
    "name",
    "require_mfa",
    "require_mfa_from",
    "mfa_methods",
    "users",
    "enrolled",
    "totp",
    "passkey",
    "sso_mfa",
    "due",
    "due_at",
    "overdue",
];

/// A cell a spreadsheet would not take for a formula: text starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn csv(rows: &[CoverageRow]) -> ApiResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_HEADER).map_err(ApiError::internal)?;
    let time = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in rows {
        let scope = match r.scope {
            CoverageScope::Account => "account",
            CoverageScope::SubAccount => "sub_account",
        };
        out.write_record([
            scope.to_string(),
            r.sub_account_id.clone().unwrap_or_default(),
            cell(&r.name),
            r.require_mfa.to_string(),
            time(&r.require_mfa_from),
            r.mfa_methods.as_str().to_string(),
            r.users.to_string(),
            r.enrolled.to_string(),
            r.by_method.totp.to_string(),
            r.by_method.passkey.to_string(),
            r.by_method.sso_mfa.to_string(),
            r.due.to_string(),
            time(&r.due_at),
            r.overdue.to_string(),
        ])
        .map_err(ApiError::internal)?;
    }
    out.into_inner().map_err(ApiError::internal)
}

/// Whether the client asked for CSV (`Accept: text/csv`).
fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().unwrap_or("").trim() == "text/csv")
}

/// MFA coverage per scope (`users.view`): users, enrolled, by method, due
/// before a deadline and overdue; the account's own users first, then each
/// sub-account. `Accept: text/csv` gives the same rows as CSV.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, description = "One row per scope", content(
            (CoverageResponse = "application/json"),
            (String = "text/csv"),
        )),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/mfa-coverage")]
pub async fn mfa_coverage(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now_naive();
    let rows = state
        .db(move |conn| coverage::report(conn, &auth, now))
        .await?;
    let items: Vec<CoverageRow> = rows.into_iter().map(CoverageRow::from).collect();
    if wants_csv(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mfa-coverage.csv\"",
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(csv(&items)?));
    }
    Ok(HttpResponse::Ok()
        .insert_header(ContentType::json())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CoverageResponse {
            generated_at: utc(now),
            items,
        }))
}
