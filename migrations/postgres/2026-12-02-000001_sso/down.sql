ALTER TABLE login_challenges DROP COLUMN first_factor;
DROP TABLE sso_flows;
DROP TABLE sso_identities;
DROP TABLE identity_providers;
