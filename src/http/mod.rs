//! Thin HTTP handlers, one module per resource: parse, authorize, call the
//! domain, shape the response.

pub mod account;
pub mod audit;
pub mod body;
pub mod coverage;
pub mod devices;
pub mod dto;
pub mod extract;
pub mod identity_providers;
pub mod invitations;
pub mod me;
pub mod mfa;
pub mod ops;
pub mod passkeys;
pub mod password_resets;
pub mod problems;
pub mod roles;
pub mod sessions;
pub mod sso;
pub mod sub_accounts;
pub mod users;
pub mod webapp;

use std::net::IpAddr;

use actix_web::{web, HttpRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `?page=&per_page=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1000000, example = 1)]
    pub page: Option<i64>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100, example = 50)]
    pub per_page: Option<i64>,
}

/// A validated page: (page, per_page, limit, offset).
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub fn from_query(page: Option<i64>, per_page: Option<i64>) -> ApiResult<Paging> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(50);
        if !(1..=1_000_000).contains(&page) {
            return Err(ApiError::invalid("page", "must be between 1 and 1000000"));
        }
        if !(1..=100).contains(&per_page) {
            return Err(ApiError::invalid("per_page", "must be between 1 and 100"));
        }
        Ok(Paging { page, per_page })
    }

    pub fn limit(&self) -> i64 {
        self.per_page
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    /// The list envelope of this page.
    pub fn envelope<T: utoipa::ToSchema>(&self, items: Vec<T>, total: i64) -> dto::Page<T> {
        dto::Page {
            items,
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}

/// The client's address: the peer, or — only when the peer is a trusted
/// proxy — the nearest untrusted address of `X-Forwarded-For`.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

/// The request context handed to the domain.
pub fn ctx(req: &HttpRequest, state: &AppState) -> Ctx {
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    Ctx {
        now: state.clock.now_naive(),
        ip: client_ip(req, &state.config.trusted_proxies).map(|ip| ip.to_string()),
        user_agent,
    }
}

/// Applies the per-IP rate limit of unauthenticated routes.
pub fn rate_limit(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    let ip = client_ip(req, &state.config.trusted_proxies);
    state.limiter.check(ip)
}

pub type State = web::Data<AppState>;

/// A JSON answer that carries a token, a secret or a recovery token: never
/// stored by a browser or a proxy (`Cache-Control: no-store`). The one
/// place that header is set for such answers (problems set it in
/// `error.rs`).
pub struct NoStore<T> {
    status: actix_web::http::StatusCode,
    body: T,
}

impl<T: serde::Serialize> NoStore<T> {
    /// 200 with `body`.
    pub fn ok(body: T) -> Self {
        NoStore {
            status: actix_web::http::StatusCode::OK,
            body,
        }
    }

    /// 201 with `body`.
    pub fn created(body: T) -> Self {
        NoStore {
            status: actix_web::http::StatusCode::CREATED,
            body,
        }
    }
}

impl<T: serde::Serialize> actix_web::Responder for NoStore<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        actix_web::HttpResponse::build(self.status)
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(self.body)
    }
}

/// Mounts every API resource (used by the app and by the OpenAPI build).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    ops::configure(cfg);
    cfg.service(
        utoipa_actix_web::scope("/api/v1")
            .configure(sessions::configure)
            .configure(me::configure)
            .configure(mfa::configure)
            .configure(account::configure)
            .configure(users::configure)
            .configure(sub_accounts::configure)
            .configure(audit::configure)
            .configure(roles::configure)
            .configure(identity_providers::configure)
            .configure(sso::configure)
            .configure(invitations::configure)
            .configure(password_resets::configure)
            .configure(passkeys::configure)
            .configure(devices::configure)
            .configure(coverage::configure),
    );
}
