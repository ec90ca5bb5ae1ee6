-- The credit app's own tables (schema app; the replica in schema dbo belongs to the Postgres sink).
-- Read and written by `sluice app` (Sources/App/CreditApp): users, sessions (hummingbird-auth's
-- PersistDriver on Postgres, so sessions survive an app restart) and login failures (the lockout).
\connect credit_app
CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE IF NOT EXISTS app.users (
    username      varchar(100) PRIMARY KEY,
    role          varchar(20)  NOT NULL CHECK (role IN ('officer', 'approver', 'admin')),
    password_hash varchar(100) NOT NULL,            -- bcrypt ($2b$, cost 12)
    disabled      boolean      NOT NULL DEFAULT false,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now()
);

-- key_hash = SHA-256 of the session id in the cookie (the id itself is never stored).
CREATE TABLE IF NOT EXISTS app.sessions (
    key_hash   char(64)    PRIMARY KEY,
    value      jsonb       NOT NULL,
    expires_at timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_sessions_expires_at ON app.sessions (expires_at);

-- One row per failed login; 5 within 15 minutes lock the username out (HTTP 429) until they age out.
CREATE TABLE IF NOT EXISTS app.login_failures (
    id             bigserial    PRIMARY KEY,
    username       varchar(200) NOT NULL,
    remote_address varchar(100) NULL,
    failed_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_login_failures_user_time ON app.login_failures (username, failed_at);

-- Demo users for the LOCAL WORLD ONLY, all with the password Credit_demo_2026 (bcrypt cost 12, each
-- hash computed once and committed; HummingbirdBcrypt verifies $2b$ hashes). Never load these into a real deployment.
INSERT INTO app.users (username, role, password_hash) VALUES
    ('alice.kern', 'officer',  '$2b$12$J9CC0N7nrv9.I8EGmxmCZeinytlKVLceVirozl6P3eMW8abh.CDfC'),
    ('bob.meyer',  'officer',  '$2b$12$KOQ/HUSI70/o40vj4bT0qe2SjSzm8cdWqmnI3wra7PEhIuhGhtV4C'),
    ('carla.diaz', 'approver', '$2b$12$gHpBNUX0PH4OYOsJZzVlsOlYAM.UYd9CzW6WfJMLQTiofz32HFbvG'),
    ('dev.rao',    'approver', '$2b$12$H3rpbsObBAzElz4SCAFg5OP7meERWDscG8S.fOTarfYlWwpS7iaoW'),
    ('ops.admin',  'admin',    '$2b$12$47Tp09E6dlFNGPR0inAL/ezMzKZaECYuSBLdFACVWU9w97.XEjpzS')
ON CONFLICT (username) DO NOTHING;
