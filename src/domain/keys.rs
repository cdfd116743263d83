//! The signing key ring: Ed25519 keys in the database (private halves sealed
//! by the master key), decrypted once and cached. The newest current key
//! signs; every key still usable verifies and is published in the JWKS.
//!
//! A rotation (`latchkey keys rotate`, or another node) reaches a running
//! node through [`KeyRing::refresh`], which `serve` calls every
//! `LATCHKEY_KEY_REFRESH_SECONDS` (at most 30), and through
//! [`KeyRing::reload`] when a token names a key the node does not know. A
//! retired key stays usable for the access-token lifetime plus
//! [`RETIRED_KEY_SLACK`], and no longer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::crypto::refresh::RefreshKey;
use crate::crypto::seal::MasterKey;
use crate::crypto::tokens::{self, AccessClaims, Signer, TokenError, Verifier};
use crate::error::{ApiError, ApiResult};
use crate::store::keys::{self as key_store, SigningKeyRow};
use crate::store::{DbConn, StoreError};

/// One public key of the JWKS document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// Public key, base64url.
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

struct KeySet {
    signer: Signer,
    verifiers: HashMap<String, Verifier>,
    jwks: Vec<Jwk>,
}

pub struct KeyRing {
    set: RwLock<Arc<KeySet>>,
    master: MasterKey,
    /// Tags refresh tokens (derived from the master key once, here).
    refresh: RefreshKey,
    retired_grace: Duration,
    issuer: String,
    audience: String,
    last_reload: Mutex<Option<Instant>>,
}

/// How long past the access-token lifetime a retired key keeps verifying:
/// a node may sign with the old key until its next refresh (at most 30 s
/// after the rotation), and clocks of nodes and the CLI may disagree.
pub const RETIRED_KEY_SLACK: Duration = Duration::from_secs(60);

/// A token with an unknown `kid` re-reads the keys at most this often.
const RELOAD_THROTTLE: Duration = Duration::from_secs(5);

fn aad(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Creates a new signing key; the others are retired (they keep verifying
/// until tokens they signed have expired).
pub fn rotate(
    conn: &mut DbConn,
    master: &MasterKey,
    now: NaiveDateTime,
) -> Result<String, StoreError> {
    let kid = super::new_id();
    let (secret, x) = tokens::generate_ed25519();
    let row = SigningKeyRow {
        kid: kid.clone(),
        public_key: x,
        private_key_sealed: master
            .seal(&secret, &aad(&kid))
            .map_err(|e| StoreError(format!("key rotation: {e}")))?,
        created_at: now,
        retired_at: None,
    };
    crate::store::write_tx(conn, |conn| -> Result<(), diesel::result::Error> {
        key_store::insert(conn, &row)?;
        key_store::retire_others(conn, &kid, now)?;
        Ok(())
    })
    .map_err(|e| StoreError(format!("key rotation: {e}")))?;
    Ok(kid)
}

fn build_set(rows: &[SigningKeyRow], master: &MasterKey) -> Result<Option<KeySet>, StoreError> {
    let mut signer = None;
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    for row in rows {
        let Some(verifier) = Verifier::from_x(&row.public_key) else {
            return Err(StoreError(format!(
                "signing key {} has a malformed public key",
                row.kid
            )));
        };
        verifiers.insert(row.kid.clone(), verifier);
        jwks.push(Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: row.public_key.clone(),
            kid: row.kid.clone(),
            use_: "sig".into(),
            alg: "EdDSA".into(),
        });
        if signer.is_none() && row.retired_at.is_none() {
            let secret = master.open(&row.private_key_sealed, &aad(&row.kid)).map_err(|_| {
                StoreError(format!(
                    "signing key {} cannot be opened: is LATCHKEY_MASTER_KEY the key this database was created with?",
                    row.kid
                ))
            })?;
            let secret: [u8; 32] = secret
                .try_into()
                .map_err(|_| StoreError(format!("signing key {} is malformed", row.kid)))?;
            signer = Some(
                Signer::from_secret(row.kid.clone(), &secret)
                    .map_err(|e| StoreError(format!("signing key {}: {e}", row.kid)))?,
            );
        }
    }
    Ok(signer.map(|signer| KeySet {
        signer,
        verifiers,
        jwks,
    }))
}

impl KeyRing {
    /// Loads the usable keys, creating the first one when there is none.
    /// Run under the start-up lock so that two nodes do not both create one.
    pub fn load_or_create(
        conn: &mut DbConn,
        config: &Config,
        now: NaiveDateTime,
    ) -> Result<KeyRing, StoreError> {
        let grace = config.access_ttl + RETIRED_KEY_SLACK;
        let cutoff = now - chrono::Duration::from_std(grace).unwrap_or_default();
        let rows = key_store::list_usable(conn, cutoff)
            .map_err(|e| StoreError(format!("signing keys: {e}")))?;
        let set = match build_set(&rows, &config.master_key)? {
            Some(set) => set,
            None => {
                rotate(conn, &config.master_key, now)?;
                let rows = key_store::list_usable(conn, cutoff)
                    .map_err(|e| StoreError(format!("signing keys: {e}")))?;
                build_set(&rows, &config.master_key)?
                    .ok_or_else(|| StoreError("no signing key after creating one".into()))?
            }
        };
        Ok(KeyRing {
            set: RwLock::new(Arc::new(set)),
            master: config.master_key.clone(),
            refresh: RefreshKey::new(&config.master_key),
            retired_grace: grace,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            last_reload: Mutex::new(None),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        self.set
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    fn last_reload(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_reload.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the keys (another node or the CLI may have rotated them).
    /// At most once every 5 seconds; returns whether it reloaded.
    pub fn reload(&self, conn: &mut DbConn, now: NaiveDateTime) -> Result<bool, StoreError> {
        let mut last = self.last_reload();
        if last.is_some_and(|at| at.elapsed() < RELOAD_THROTTLE) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        self.load(conn, now)?;
        Ok(true)
    }

    /// Re-reads the keys now, whenever it last happened: the periodic
    /// refresh of `serve`. Afterwards the newest current key signs, and the
    /// keys retired longer ago than the grace no longer verify.
    pub fn refresh(&self, conn: &mut DbConn, now: NaiveDateTime) -> Result<(), StoreError> {
        let mut last = self.last_reload();
        *last = Some(Instant::now());
        if self.load(conn, now)? {
            Ok(())
        } else {
            // Only a hand-edited table has no current key. The node keeps
            // its keys (it must sign with something) and says so each time.
            Err(StoreError(
                "no current signing key in the database; run `latchkey keys rotate`".into(),
            ))
        }
    }

    /// Replaces the whole set with what the database holds now (the caller
    /// holds `last_reload`, so two loads never store an older set over a
    /// newer one). False, the set unchanged, when no key is current.
    fn load(&self, conn: &mut DbConn, now: NaiveDateTime) -> Result<bool, StoreError> {
        let cutoff = now - chrono::Duration::from_std(self.retired_grace).unwrap_or_default();
        let rows = key_store::list_usable(conn, cutoff)
            .map_err(|e| StoreError(format!("signing keys: {e}")))?;
        let Some(set) = build_set(&rows, &self.master)? else {
            return Ok(false);
        };
        let mut guard = self.set.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(set);
        Ok(true)
    }

    /// The key that tags refresh tokens (`crypto::refresh`).
    pub fn refresh_tokens(&self) -> &RefreshKey {
        &self.refresh
    }

    pub fn sign(&self, claims: &AccessClaims) -> ApiResult<String> {
        self.current()
            .signer
            .sign(claims)
            .map_err(|e| ApiError::internal(format!("signing an access token: {e}")))
    }

    /// Verifies an access token against the cached keys.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let kid = tokens::header_kid(token)?;
        let set = self.current();
        let verifier = set.verifiers.get(&kid).ok_or(TokenError::UnknownKid(kid))?;
        tokens::verify(token, verifier, &self.issuer, &self.audience, now)
    }

    /// Whether tokens signed with `kid` still verify here (a key retired
    /// past its grace is gone from the set).
    pub fn verifies(&self, kid: &str) -> bool {
        self.current().verifiers.contains_key(kid)
    }

    pub fn jwks(&self) -> Vec<Jwk> {
        self.current().jwks.clone()
    }

    pub fn signing_kid(&self) -> String {
        self.current().signer.kid.clone()
    }
}
