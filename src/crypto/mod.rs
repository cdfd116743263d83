//! Pure cryptographic functions: no I/O, no clock, no database. RFC test
//! vectors live next to the code they check.

pub mod password;
pub mod seal;
pub mod tokens;
pub mod totp;
