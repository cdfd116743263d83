//! Diesel table definitions, identical for SQLite and PostgreSQL
//! (see `migrations/sqlite` and `migrations/postgres`).

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        require_mfa -> Bool,
        created_at -> Timestamp,
        mfa_methods -> Text,
        require_mfa_from -> Nullable<Timestamp>,
        remember_device_days -> Integer,
    }
}

diesel::table! {
    sub_accounts (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        require_mfa -> Bool,
        created_at -> Timestamp,
        mfa_methods -> Text,
        require_mfa_from -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        account_id -> Text,
        sub_account_id -> Nullable<Text>,
        email -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        mfa_enabled_at -> Nullable<Timestamp>,
        mfa_failures -> Integer,
        mfa_locked_until -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        mfa_reset_at -> Nullable<Timestamp>,
        mfa_reset_by -> Nullable<Text>,
        require_mfa -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        amr -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        refresh_hash -> Nullable<Text>,
        refresh_generation -> BigInt,
        refresh_chain_start -> BigInt,
        factor_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_challenges (id) {
        id -> Text,
        token_hash -> Text,
        kind -> Text,
        user_id -> Text,
        failures -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        first_factor -> Text,
        provider_id -> Nullable<Text>,
        subject -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        passkey_state -> Nullable<Text>,
    }
}

diesel::table! {
    totp_credentials (id) {
        id -> Text,
        user_id -> Text,
        status -> Text,
        secret_sealed -> Text,
        last_used_step -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        activated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_tokens (user_id) {
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        public_key -> Text,
        private_key_sealed -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        account_id -> Nullable<Text>,
        event_type -> Text,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        target_user_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    login_throttles (email_key) {
        email_key -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        description -> Text,
        permissions -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    identity_providers (id) {
        id -> Text,
        account_id -> Text,
        sub_account_id -> Nullable<Text>,
        name -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret_sealed -> Text,
        scopes -> Text,
        allowed_redirect_uris -> Text,
        trust_idp_mfa -> Bool,
        jit_provisioning -> Bool,
        default_role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        ceiling -> Text,
    }
}

diesel::table! {
    sso_identities (id) {
        id -> Text,
        account_id -> Text,
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        provider_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sso_flows (id) {
        id -> Text,
        state_hash -> Text,
        provider_id -> Text,
        nonce -> Text,
        pkce_verifier_sealed -> Text,
        redirect_uri -> Text,
        client_state -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        client_code_challenge -> Nullable<Text>,
    }
}

diesel::table! {
    remembered_devices (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        method -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    mfa_reminders (user_id, deadline, days_before) {
        user_id -> Text,
        deadline -> Timestamp,
        days_before -> Integer,
        sent_at -> Timestamp,
    }
}

diesel::joinable!(remembered_devices -> users (user_id));
diesel::joinable!(mfa_reminders -> users (user_id));
diesel::joinable!(sub_accounts -> accounts (account_id));
diesel::joinable!(identity_providers -> accounts (account_id));
diesel::joinable!(sso_identities -> users (user_id));
diesel::joinable!(sso_flows -> identity_providers (provider_id));
diesel::joinable!(users -> accounts (account_id));
diesel::joinable!(users -> sub_accounts (sub_account_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(login_challenges -> users (user_id));
diesel::joinable!(totp_credentials -> users (user_id));
diesel::joinable!(recovery_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    sub_accounts,
    users,
    sessions,
    refresh_tokens,
    login_challenges,
    totp_credentials,
    recovery_tokens,
    signing_keys,
    audit_events,
    login_throttles,
    roles,
    identity_providers,
    sso_identities,
    sso_flows,
    outbox,
    invitations,
    password_resets,
    signup_requests,
    passkeys,
    remembered_devices,
    mfa_reminders,
    webauthn_ceremonies,
    invitation_replaced_tokens,
);

diesel::table! {
    outbox (id) {
        id -> Text,
        account_id -> Nullable<Text>,
        kind -> Text,
        recipient -> Text,
        vars -> Text,
        link -> Nullable<Text>,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        account_id -> Text,
        sub_account_id -> Nullable<Text>,
        email -> Text,
        display_name -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Nullable<Text>,
        ceiling -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitation_replaced_tokens (token_hash) {
        token_hash -> Text,
        invitation_id -> Text,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signup_requests (token_hash) {
        token_hash -> Text,
        email -> Text,
        account_name -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        passkey -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        backed_up -> Bool,
        sign_count -> BigInt,
    }
}

diesel::table! {
    webauthn_ceremonies (id) {
        id -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        bound_to -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}
