#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real slapd, a
# real PostgreSQL, SQLite and a headless Chromium; then the Debian package,
# installed and checked. Installs slapd/ldap-utils/postgresql/openssl/chromium
# first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
export ENROLGEN_REQUIRE_SLAPD=1
export ENROLGEN_REQUIRE_POSTGRES=1
export ENROLGEN_REQUIRE_CHROMIUM=1
if [ -z "${ENROLGEN_TEST_ORACLE_CONNECT:-}" ]; then
  echo "note: the live Oracle test is skipped (set ENROLGEN_TEST_ORACLE_CONNECT, _USER, _PASSWORD to run it)"
fi
if [ -z "${ENROLGEN_TEST_MOODLE_HARNESS:-}" ]; then
  echo "note: the live Moodle test is skipped (set ENROLGEN_TEST_MOODLE_HARNESS, _URL, _TOKEN_FILE to run it)"
fi
cargo test --locked --lib --bins --tests "$@"
# The slow fault tests (a large run killed at several points), ignored by plain
# `cargo test`.
cargo test --locked --test integration slow_ -- --ignored
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The Debian package: built, linted, installed, run as its user, removed.
deb="$(bash scripts/package-deb.sh)"
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-package.sh "$deb"
else
  sudo bash scripts/test-package.sh "$deb"
fi
