//! Latchkey: a multi-factor authentication service.
//!
//! Layers: `http` (handlers) → `domain` (rules, one transaction each) →
//! `store` (SQL); `crypto` holds pure functions.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod openapi;
pub mod state;
pub mod store;
