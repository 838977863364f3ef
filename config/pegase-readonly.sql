-- The read-only role enrolgen reads Pégase's DRE as (docs/pegase.md).
-- Run it once on the DRE database, as the role that loads the DRE every night:
--   psql -d dre -v password="'a long random secret'" -f pegase-readonly.sql
-- enrolgen reads these schemas only; SELECT is all it needs, and every transaction
-- of the role is read-only besides.
CREATE ROLE enrolgen_ro LOGIN PASSWORD :password;
ALTER ROLE enrolgen_ro SET default_transaction_read_only = on;
SELECT format('GRANT CONNECT ON DATABASE %I TO enrolgen_ro', current_database()) \gexec
GRANT USAGE ON SCHEMA schema_idt, schema_ins, schema_odf, schema_chc TO enrolgen_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA schema_idt, schema_ins, schema_odf, schema_chc TO enrolgen_ro;
-- The DRE's tables are made anew by each night's refresh: the tables its loading
-- role creates from now on are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA schema_idt, schema_ins, schema_odf, schema_chc
  GRANT SELECT ON TABLES TO enrolgen_ro;
