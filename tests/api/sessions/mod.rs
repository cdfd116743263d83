//! `/api/v1/accounts`, `/api/v1/sessions*`, `/api/v1/me`, `/api/v1/me/password`, `/api/v1/me/sessions*`.
//! By subject: sign-up, login and sessions, the password lockout, refresh.

mod lockout;
mod login;
mod refresh;
mod signup;
