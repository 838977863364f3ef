#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real slapd and
# SQLite. Installs slapd/ldap-utils/openssl first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
export ENROLGEN_REQUIRE_SLAPD=1
cargo test --locked --all-targets "$@"
