#!/usr/bin/env bash
# Installs what the test suite needs that cargo does not bring: OpenLDAP's slapd and
# client tools (the tests start a private slapd on loopback), PostgreSQL's server
# and psql (the tests start a private cluster holding Pégase's DRE tables), openssl
# (the tests make a throwaway CA for TLS) and Chromium (the report is rendered
# headless).
# Idempotent; non-interactive.
set -euo pipefail
need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
[ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ] || need+=(chromium fonts-dejavu-core)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Preseed so that the package does not ask for an admin password. The tests start
# PostgreSQL themselves: the package's own cluster is not needed (and, in a
# container without an init system, not started).
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
