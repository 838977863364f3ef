#!/usr/bin/env bash
# Pégase end-to-end benchmark: the benchmark university (50,000 students by default)
# with its students in Pégase's DRE tables on a private PostgreSQL, the release
# binary reading its cohorts there, against the floor of the same queries in psql,
# and the same university read from Apogée beside it.
#   bash scripts/bench-pegase.sh [--students N] [--repeat K] [--keep DIR]
# Installs what it needs (PostgreSQL, GNU time) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
if [ ! -x /usr/bin/time ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends time >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --quiet
python3 scripts/bench/pegase.py "$@"
