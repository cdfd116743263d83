//! The web app's build (`web/dist`, or `LATCHKEY_WEB_DIR`) served at `/`,
//! so `cargo run --release` gives the whole product on one origin, without
//! CORS. Files are served by `actix-files` (content type, ETag, ranges);
//! hashed assets are cached for good, everything else revalidated; any
//! other path a browser asks for gets `index.html` (the app's own router
//! decides). The API's paths are never answered with the app.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};

/// Paths that belong to the server, never to the app.
const RESERVED: [&str; 7] = [
    "/api/",
    "/api-docs",
    "/swagger-ui",
    "/.well-known/",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// Whether the app answers `req` (a browser's GET or HEAD of a path that is
/// not the server's).
pub fn serves(req: &HttpRequest) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !RESERVED
            .iter()
            .any(|r| req.path() == r.trim_end_matches('/') || req.path().starts_with(r))
}

/// The file under `dir` that `path` names, if it is a plain relative path
/// to an existing file (no `..`, no hidden files).
fn file_of(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    let plain = relative.components().all(|c| match c {
        Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
        _ => false,
    });
    let file = dir.join(relative);
    (plain && !path.ends_with('/') && file.is_file()).then_some(file)
}

/// The app's answer to `req`: the file it names, else `index.html`.
pub async fn serve(req: &HttpRequest, dir: &Path) -> std::io::Result<HttpResponse> {
    let (file, immutable) = match file_of(dir, req.path()) {
        Some(file) => {
            let hashed = req.path().starts_with("/assets/");
            (file, hashed)
        }
        None => (dir.join("index.html"), false),
    };
    let mut response = NamedFile::open_async(file).await?.into_response(req);
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_to_files_are_served() {
        let dir = std::env::temp_dir().join(format!("latchkey-web-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<html></html>").unwrap();
        std::fs::write(dir.join("assets/app.js"), "1").unwrap();
        std::fs::write(dir.join(".env"), "secret").unwrap();
        assert!(file_of(&dir, "/assets/app.js").is_some());
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/.env",
            "/assets/",
            "/missing.js",
        ] {
            assert!(file_of(&dir, bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
