#!/usr/bin/env bash
# End-to-end benchmark: generates a realistic university (50,000 students by default),
# runs the release binary on it from LDIF and from a private slapd, and measures in the
# same run the floor: the sqlite3 shell loading the same dump and running the same
# set-based queries, and ldapsearch paging out the same branches.
#   bash scripts/bench.sh [--students N] [--repeat K] [--keep DIR]
# Installs what it needs (sqlite3, GNU time, slapd, ldap-utils) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
need=()
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --quiet
python3 scripts/bench/run.py "$@"
