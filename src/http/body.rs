//! `Body<T>`: the JSON request body, parsed lazily so that authentication
//! and authorization answer first (a client without access learns nothing
//! from validation errors), and with the failing field named in 422s.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult, FieldError};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

enum Parsed<T> {
    Value(T),
    Empty,
    Problem(ApiError),
}

/// A JSON body, or the problem it has.
pub struct Body<T>(Parsed<T>);

impl<T> Body<T> {
    /// The parsed body, or its 400/413/415/422 problem (a missing body is 400).
    pub fn parse(self) -> ApiResult<T> {
        match self.0 {
            Parsed::Value(value) => Ok(value),
            Parsed::Empty => Err(ApiError::BadRequest(
                "A JSON request body is required.".into(),
            )),
            Parsed::Problem(e) => Err(e),
        }
    }

    /// Like [`Body::parse`], but a missing body is `T::default()`.
    pub fn parse_or_default(self) -> ApiResult<T>
    where
        T: Default,
    {
        match self.0 {
            Parsed::Empty => Ok(T::default()),
            other => Body(other).parse(),
        }
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Parses JSON text into `T`; an empty body counts as `{}`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or("invalid value")
                .to_string();
            let field = if field == "." {
                serde_field(&message)
            } else {
                field
            };
            ApiError::Validation(vec![FieldError { field, message }])
        } else {
            let message = inner.to_string();
            ApiError::BadRequest(format!(
                "Malformed JSON: {}",
                message.split(" at line ").next().unwrap_or("syntax error")
            ))
        }
    })?;
    de.end()
        .map_err(|_| ApiError::BadRequest("Malformed JSON: trailing characters".into()))?;
    Ok(value)
}

/// The field a serde message names (`missing field `email``), else `body`.
pub fn serde_field(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or("body")
        .to_string()
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Ok(Body(Parsed::Problem(ApiError::PayloadTooLarge)));
            }
            let mut bytes = web::BytesMut::new();
            use futures_util::StreamExt;
            while let Some(chunk) = payload.next().await {
                let Ok(chunk) = chunk else {
                    return Ok(Body(Parsed::Problem(ApiError::BadRequest(
                        "The request body could not be read.".into(),
                    ))));
                };
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Ok(Body(Parsed::Problem(ApiError::PayloadTooLarge)));
                }
                bytes.extend_from_slice(&chunk);
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Body(Parsed::Empty));
            }
            if !json {
                return Ok(Body(Parsed::Problem(ApiError::UnsupportedMediaType)));
            }
            Ok(Body(match parse_json(&bytes) {
                Ok(value) => Parsed::Value(value),
                Err(e) => Parsed::Problem(e),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        nested: Option<Vec<u8>>,
    }

    #[test]
    fn names_the_failing_field() {
        let err = parse_json::<Login>(br#"{"email": 5}"#).unwrap_err();
        assert!(
            matches!(&err, ApiError::Validation(f) if f[0].field == "email"),
            "{err:?}"
        );
        let err = parse_json::<Login>(br#"{"email": "a", "nested": [1, "x"]}"#).unwrap_err();
        assert!(
            matches!(&err, ApiError::Validation(f) if f[0].field == "nested[1]"),
            "{err:?}"
        );
        let err = parse_json::<Login>(b"{}").unwrap_err();
        assert!(
            matches!(&err, ApiError::Validation(f) if f[0].field == "email"),
            "{err:?}"
        );
        assert!(matches!(
            parse_json::<Login>(b"{\"email\":"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Login>(b"{\"email\":\"a\"} x"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Login>(b"null"),
            Err(ApiError::Validation(_))
        ));
    }
}
