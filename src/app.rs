//! `build(state)`: the one place that mounts every service, Swagger UI, the
//! JSON/Path/Query error handlers, CORS and metrics.

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{http::header, web, App, HttpRequest, HttpResponse};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, FieldError};
use crate::http::body::serde_field;
use crate::metrics::metrics_handle;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// The OpenAPI document, built from the handlers without a server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::http::configure)
        .split_for_parts();
    crate::openapi::with_problem_bodies(api)
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = err.to_string();
    ApiError::Validation(vec![FieldError {
        field: serde_field(&message),
        message: "invalid query parameter".into(),
    }])
    .into()
}

fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// The documented routes and their methods, to tell 405 from 404.
struct RouteTable(Vec<(ResourceDef, String)>);

impl RouteTable {
    fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let mut routes = Vec::new();
        for (path, item) in &api.paths.paths {
            let mut methods: Vec<&str> = Vec::new();
            for (method, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                if op.is_some() {
                    methods.push(method);
                }
            }
            routes.push((ResourceDef::new(path.as_str()), methods.join(", ")));
        }
        RouteTable(routes)
    }
}

/// Unmatched requests: 405 with `Allow` for a known path, else 404.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(dir) = &state.config.web_dir {
        if crate::http::webapp::serves(&req) {
            return crate::http::webapp::serve(&req, dir)
                .await
                .map_err(|e| ApiError::internal(format!("web app {}: {e}", dir.display())));
        }
    }
    match routes.0.iter().find(|(def, _)| def.is_match(req.path())) {
        Some((_, allow)) => Err(ApiError::MethodNotAllowed {
            allow: allow.clone(),
        }),
        None => Err(ApiError::NotFound),
    }
}

/// The complete application for `state`.
pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.config.cors_origins);
    let _ = metrics_handle();
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::http::configure)
        .split_for_parts();
    let api = crate::openapi::with_problem_bodies(api);
    let routes = web::Data::new(RouteTable::from_openapi(&api));
    app.app_data(web::Data::new(state))
        .app_data(routes)
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", api))
        .default_service(web::to(fallback))
        .wrap(cors)
        // Every answer, Swagger UI's pages included: no content sniffing,
        // never framed (clickjacking).
        .wrap(
            actix_web::middleware::DefaultHeaders::new()
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'")),
        )
        .wrap_fn(|req, srv| {
            use actix_web::dev::Service;
            let started = Instant::now();
            let method = req.method().to_string();
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            let fut = srv.call(req);
            async move {
                let res = fut.await?;
                let status = res.status().as_u16().to_string();
                let elapsed = started.elapsed().as_secs_f64();
                metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.clone()).increment(1);
                metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "route" => route.clone()).record(elapsed);
                tracing::info!(target: "latchkey::http", %method, %route, %status, elapsed_ms = elapsed * 1000.0, "request");
                Ok(res)
            }
        })
}
