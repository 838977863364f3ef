#!/usr/bin/env bash
# Installs the Debian package on this machine and checks it as an administrator
# would: files where Debian expects them, the system user, the demo run by that
# user, `enrolgen status`, the units (systemd-analyze verify and security), lintian,
# then remove and purge. Run as root (CI is); scripts/test.sh calls it.
#   bash scripts/test-package.sh [target/debian/enrolgen_*.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
deb="${1:-$(ls target/debian/enrolgen_*.deb | tail -1)}"
if [ "$(id -u)" -ne 0 ]; then
  echo "test-package: needs root (it installs the package)" >&2
  exit 1
fi
need=()
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

fail() { echo "test-package: FAILED: $*" >&2; exit 1; }
check() { local what="$1"; shift; "$@" || fail "$what"; echo "  ok: $what"; }
# status_is CODE PREFIX: the last `enrolgen status` ($code, $status) said so.
status_is() { [ "$code" = "$1" ] && [[ "$status" == "$2"* ]]; }

echo "lintian:"
lintian_out="$(lintian --allow-root "$deb" 2>&1 || true)"
echo "$lintian_out" | sed 's/^/  /'
if echo "$lintian_out" | grep -q '^E: '; then fail "lintian reports errors"; fi
echo "  ok: no lintian error"

echo "install:"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
check "the program is /usr/bin/enrolgen" test -x /usr/bin/enrolgen
check "enrolgen --version" sh -c '/usr/bin/enrolgen --version | grep -q "^enrolgen "'
check "system user enrolgen" sh -c 'getent passwd enrolgen | grep -q ":/var/lib/enrolgen:/usr/sbin/nologin$"'
check "/var/lib/enrolgen is the user's, 0750" sh -c '[ "$(stat -c "%U:%G %a" /var/lib/enrolgen)" = "enrolgen:enrolgen 750" ]'
check "the configuration is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" enrolgen | grep -q "/etc/enrolgen/enrolgen.yaml"'
check "the configuration is root:enrolgen 0640" sh -c '[ "$(stat -c "%U:%G %a" /etc/enrolgen/enrolgen.yaml)" = "root:enrolgen 640" ]'
for page in enrolgen enrolgen-run enrolgen-adhoc enrolgen-check enrolgen-explain enrolgen-lint enrolgen-verify enrolgen-init enrolgen-status; do
  check "man page $page(1)" sh -c "zcat /usr/share/man/man1/$page.1.gz | grep -q '^.TH $page 1 .*\"enrolgen [0-9]'"
  for section in '"EXIT STATUS"' ENVIRONMENT FILES '"SEE ALSO"'; do
    check "man page $page(1): $section" sh -c "zcat /usr/share/man/man1/$page.1.gz | grep -q '^.SH $section'"
  done
done
check "bash completion" grep -q "_enrolgen" /usr/share/bash-completion/completions/enrolgen
check "zsh completion" grep -q "#compdef enrolgen" /usr/share/zsh/vendor-completions/_enrolgen
check "fish completion" grep -q "complete -c enrolgen" /usr/share/fish/vendor_completions.d/enrolgen.fish
check "units" test -f /lib/systemd/system/enrolgen.service -a -f /lib/systemd/system/enrolgen.timer
check "the demo" test -f /usr/share/doc/enrolgen/examples/demo/enrolgen.yaml
check "the guides" test -f /usr/share/doc/enrolgen/docs/administration.md.gz

echo "systemd:"
check "systemd-analyze verify" systemd-analyze verify /lib/systemd/system/enrolgen.service /lib/systemd/system/enrolgen.timer
exposure="$(systemd-analyze security --offline=true /lib/systemd/system/enrolgen.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for enrolgen.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')"
echo "  exposure: $exposure"
check "systemd-analyze security: 2.0 or less (OK or better)" \
  awk -v e="${exposure%% *}" 'BEGIN { exit !(e != "" && e <= 2.0) }'
dropin=/etc/systemd/system/enrolgen.service.d
mkdir -p "$dropin" /etc/enrolgen/credentials
cp /usr/share/doc/enrolgen/examples/systemd/credentials.conf "$dropin/credentials.conf"
check "the credentials drop-in verifies" systemd-analyze verify /lib/systemd/system/enrolgen.service
rm -rf "$dropin" /etc/enrolgen/credentials

echo "the demo, as the enrolgen user:"
out=/var/lib/enrolgen/ci-demo
rm -rf "$out"
as_enrolgen() { runuser -u enrolgen -- "$@"; }
check "run on the installed demo" as_enrolgen /usr/bin/enrolgen run -q \
  -c /usr/share/doc/enrolgen/examples/demo/enrolgen.yaml --out "$out" --as-of 2026-11-24
check "it wrote the upload files" test -s "$out/ecampus/ecampus.csv" -a -s "$out/collegium/collegium.csv"
check "its files are 0640" sh -c "[ \"\$(stat -c %a $out/ecampus/ecampus.csv)\" = 640 ]"
check "the Prometheus file" grep -q '^enrolgen_last_run_exit_code 0$' "$out/enrolgen.prom"
status="$(as_enrolgen /usr/bin/enrolgen status --out "$out")" && code=0 || code=$?
echo "  $status"
check "status OK after the run (exit 0)" status_is 0 "ENROLGEN OK - "
# Thirty hours without a run that wrote its files: WARNING (over 26 h).
python3 - "$out/last-run.json" 30 <<'PY'
import json, sys, datetime
p, hours = sys.argv[1], int(sys.argv[2])
d = json.load(open(p))
d["last_success"] = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)).isoformat()
json.dump(d, open(p, "w"))
PY
status="$(as_enrolgen /usr/bin/enrolgen status --out "$out")" && code=0 || code=$?
echo "  $status"
check "status WARNING when stale (exit 1)" status_is 1 "ENROLGEN WARNING - files last written 30"
cp -r /usr/share/doc/enrolgen/examples/demo /tmp/enrolgen-broken-demo
rm /tmp/enrolgen-broken-demo/universitice.ldif
chmod -R a+rX /tmp/enrolgen-broken-demo
as_enrolgen /usr/bin/enrolgen run -q -c /tmp/enrolgen-broken-demo/enrolgen.yaml --out "$out" --as-of 2026-11-24 2>/dev/null && code=0 || code=$?
rm -rf /tmp/enrolgen-broken-demo
check "a run whose source is missing fails (exit 3)" test "$code" = 3
status="$(as_enrolgen /usr/bin/enrolgen status --out "$out")" && code=0 || code=$?
echo "  $status"
check "status CRITICAL after a failed run (exit 2)" status_is 2 "ENROLGEN CRITICAL - last run failed (exit 3"
rm -rf "$out"

echo "upgrade:"
# An administrator's edit of the short conffile is kept by an upgrade whose
# conffile did not change, without a question (stdin closed: a prompt would fail).
echo "# edited on this server" >> /etc/enrolgen/enrolgen.yaml
up="$(mktemp -d)"
dpkg-deb -R "$deb" "$up/tree"
sed -i 's/^Version: \(.*\)$/Version: \1+up1/' "$up/tree/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$up/tree" "$up/enrolgen-up.deb" >/dev/null
DEBIAN_FRONTEND=noninteractive dpkg -i "$up/enrolgen-up.deb" </dev/null >/dev/null
rm -rf "$up"
check "upgrade: the edit of the conffile is kept, without a prompt" grep -q "^# edited on this server" /etc/enrolgen/enrolgen.yaml
check "the reference configuration is with the examples" test -f /usr/share/doc/enrolgen/examples/enrolgen.yaml
check "the conffile is short" sh -c '[ "$(wc -l < /etc/enrolgen/enrolgen.yaml)" -le 20 ]'

echo "remove and purge:"
# What an administrator adds: the secrets as credentials, a drop-in, the timer enabled.
mkdir -p /etc/enrolgen/credentials /etc/systemd/system/enrolgen.service.d /etc/systemd/system/timers.target.wants
echo secret > /etc/enrolgen/credentials/ldap-password
cp /usr/share/doc/enrolgen/examples/systemd/credentials.conf /etc/systemd/system/enrolgen.service.d/credentials.conf
ln -sf /lib/systemd/system/enrolgen.timer /etc/systemd/system/timers.target.wants/enrolgen.timer
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq enrolgen >/dev/null
check "remove: the program is gone" test ! -e /usr/bin/enrolgen
check "remove: /var/lib/enrolgen and the configuration stay" test -d /var/lib/enrolgen -a -f /etc/enrolgen/enrolgen.yaml
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq enrolgen >/dev/null
check "purge: the configuration is gone" test ! -e /etc/enrolgen/enrolgen.yaml
check "purge: no credential left" test ! -e /etc/enrolgen/credentials
check "purge: no drop-in left" test ! -e /etc/systemd/system/enrolgen.service.d
check "purge: no timer link left" test ! -e /etc/systemd/system/timers.target.wants/enrolgen.timer -a ! -L /etc/systemd/system/timers.target.wants/enrolgen.timer
check "purge: /var/lib/enrolgen and the user stay" sh -c 'test -d /var/lib/enrolgen && getent passwd enrolgen >/dev/null'
check "dpkg knows nothing of it" sh -c '! dpkg-query -W enrolgen >/dev/null 2>&1 || [ "$(dpkg-query -W -f="\${Status}" enrolgen)" = "unknown ok not-installed" ]'
echo "test-package: every check passed"
