//! The signing key ring: Ed25519 keys in the database (private halves sealed
//! by the master key), decrypted once and cached. The newest current key
//! signs; every key still usable verifies and is published in the JWKS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Config;
use crate::crypto::seal::MasterKey;
use crate::crypto::tokens::{self, AccessClaims, Signer, TokenError, Verifier};
use crate::store::keys::{self as key_store, SigningKeyRow};
use crate::store::{DbConn, StoreError};

/// One public key of the JWKS document.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    retired_grace: Duration,
    issuer: String,
    audience: String,
    last_reload: Mutex<Option<Instant>>,
}

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
        private_key_sealed: master.seal(&secret, &aad(&kid)),
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
            signer = Some(Signer::from_secret(row.kid.clone(), &secret));
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
        let grace = config.access_ttl + Duration::from_secs(60);
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

    /// Re-reads the keys (another node or the CLI may have rotated them).
    /// At most once every 5 seconds; returns whether it reloaded.
    pub fn reload(&self, conn: &mut DbConn, now: NaiveDateTime) -> Result<bool, StoreError> {
        {
            let mut last = self.last_reload.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(5)) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let cutoff = now - chrono::Duration::from_std(self.retired_grace).unwrap_or_default();
        let rows = key_store::list_usable(conn, cutoff)
            .map_err(|e| StoreError(format!("signing keys: {e}")))?;
        if let Some(set) = build_set(&rows, &self.master)? {
            let mut guard = self.set.write().unwrap_or_else(|p| p.into_inner());
            *guard = Arc::new(set);
        }
        Ok(true)
    }

    pub fn sign(&self, claims: &AccessClaims) -> String {
        self.current().signer.sign(claims)
    }

    /// Verifies an access token against the cached keys.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let kid = tokens::header_kid(token)?;
        let set = self.current();
        let verifier = set.verifiers.get(&kid).ok_or(TokenError::UnknownKid(kid))?;
        tokens::verify(token, verifier, &self.issuer, &self.audience, now)
    }

    pub fn jwks(&self) -> Vec<Jwk> {
        self.current().jwks.clone()
    }

    pub fn signing_kid(&self) -> String {
        self.current().signer.kid.clone()
    }
}
