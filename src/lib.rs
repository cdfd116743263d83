//! Latchkey: a multi-factor authentication service.
//!
//! Layers: `http` (handlers) → `service` (sign-in sequences across the
//! database, argon2 and identity providers) → `domain` (rules, one
//! transaction each) → `store` (SQL); `crypto` holds pure functions; `oidc`
//! is the OpenID Connect relying party (HTTP to identity providers, no
//! policy).

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod ratelimit;
pub mod service;
pub mod state;
pub mod store;
