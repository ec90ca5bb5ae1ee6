-- credit_app: the app team's Postgres (psql script). The replica tables (schema dbo) are created by the
-- Postgres sink from the change events; the app's own tables come with the HTTP API.
SELECT 'CREATE DATABASE credit_app' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'credit_app')\gexec
\connect credit_app
CREATE SCHEMA IF NOT EXISTS dbo;
