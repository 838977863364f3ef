#!/usr/bin/env python3
"""What `accounts_in: moodle` adds to a run, on a real Moodle 4.5.6.

A generated university (10,000 students by default, scripts/bench/university.py);
a fresh harness site holding the accounts and courses of Ecampus's files; then the
same Ecampus run (files) twice: without, then with `accounts_in: moodle`. Prints
both runs' seconds (best of three) and the Moodle requests the accounts cost (from
summary.json), with and without the batch function in the token's service; then the
age rule read from Moodle (`moodle_created_report`: a custom report made by
scripts/moodle/created_report.php, every account created long before the as-of day
but one in a hundred made on it); then two nightly (--delta) nights: the second, with
nothing new, asks only about the accounts still refused.

    cargo build --release && python3 scripts/bench/platform_accounts.py \
        --harness HARNESS [--students N]
(the harness set up and its web server started: see scripts/bench/webservice.py)
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webservice import AS_OF, BATCH_SQL, ROOT, enrolgen, files_of, fresh_site, sh, world_of  # noqa: E402

PSQL = "PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc "


def created_report(harness, accounts_cfg):
    """The report of new accounts on the site; every account made on 2026-09-01 but
    one in a hundred on the as-of day; a configuration that reads the age from it."""
    out = sh(harness, f". lib/env.sh && MOODLE_DIR=$MOODLE_DIR $PHP {ROOT}/scripts/moodle/created_report.php",
             capture_output=True, text=True).stdout.split()[-1]
    sql = [
        "update mdl_user set timecreated = 1788220800 where id > 2",
        "update mdl_user set timecreated = 1795507200 where id > 2 and id % 100 = 0",
        "insert into mdl_external_services_functions (externalserviceid, functionname) "
        "select id, f from mdl_external_services, (values ('core_reportbuilder_set_filters'), "
        "('core_reportbuilder_retrieve_report')) as v(f) where shortname = 'enrolgen'",
        "insert into mdl_role_capabilities (contextid, roleid, capability, permission, timemodified, modifierid) "
        "select 1, id, 'moodle/reportbuilder:viewall', 1, 0, 2 from mdl_role where shortname = 'enrolgenws'",
    ]
    for q in sql:
        sh(harness, f'{PSQL}"{q}"')
    sh(harness, ". lib/env.sh && $PHP $MOODLE_DIR/admin/cli/purge_caches.php")
    return accounts_cfg.replace("    accounts_in: moodle\n", f"    accounts_in: moodle\n    moodle_created_report: {out}\n", 1)


def best(k, f):
    return min((f() for _ in range(k)), key=lambda x: x[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--url", default="http://localhost:8088")
    ap.add_argument("--token-file", default="/tmp/moodle-harness/ws-token")
    a = ap.parse_args()
    harness = Path(a.harness).resolve()
    work = Path(tempfile.mkdtemp(prefix="enrolgen-accounts-bench-"))
    u = work / "u"
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/university.py"), str(u), "--students", str(a.students)], check=True)
    r, _ = enrolgen("run", "-c", "enrolgen.yaml", "--platform", "ecampus", "--out", "files", "--as-of", AS_OF, cwd=u)
    if r.returncode not in (0, 1):
        sys.exit(r.stderr)
    world, _ = world_of(files_of(u / "files", "ecampus"))
    (work / "world.json").write_text(json.dumps(world))
    fresh_site(harness, work / "world.json")
    sh(harness, "./ws-setup.sh --quiet >/dev/null")
    base = (u / "enrolgen.yaml").read_text()
    token = Path(a.token_file).resolve()
    (u / "accounts.yaml").write_text(base.replace(
        "  ecampus:\n",
        f"  ecampus:\n    accounts_in: moodle\n    moodle: {{ url: \"{a.url}\", token_file: {token} }}\n", 1))

    def run(cfg):
        r, s = enrolgen("run", "-c", cfg, "--platform", "ecampus", "--out", "o-" + cfg, "--as-of", AS_OF, cwd=u)
        if r.returncode not in (0, 1):
            sys.exit(r.stderr)
        summary = json.loads((u / ("o-" + cfg) / "summary.json").read_text())
        acc = [x for x in summary["sources"] if x["source"].endswith("(accounts)")]
        return s, (acc[0] if acc else None), summary["platforms"]["ecampus"]["left_out"]

    print(f"{a.students} students; Ecampus plans {len(world['users'])} accounts in {len(world['courses'])} courses; Moodle {a.url}")
    plain, _, _ = best(3, lambda: run("enrolgen.yaml"))
    print(f"{'run':34}{'seconds':>9}{'requests':>10}{'accounts s':>12}")
    print(f"{'directories only':34}{plain:>9.2f}{0:>10}{'':>12}")
    for batch in (False, True):
        if batch:
            sh(harness, BATCH_SQL)
        s, acc, left = best(3, lambda: run("accounts.yaml"))
        name = "accounts_in: moodle" + (", batch function" if batch else "")
        print(f"{name:34}{s:>9.2f}{acc['requests']:>10}{acc['seconds']:>12.2f}")
        if left.get("no_platform_account"):
            sys.exit(f"every planned account is on the site, yet: {left}")
    (u / "created.yaml").write_text(created_report(harness, (u / "accounts.yaml").read_text()))
    s, acc, left = best(3, lambda: run("created.yaml"))
    name = "+ moodle_created_report"
    print(f"{name:34}{s:>9.2f}{acc['requests']:>10}{acc['seconds']:>12.2f}"
          f"  ({left.get('account_too_recent', 0)} enrolments account_too_recent)")
    # The nightly mode: a first --delta night asks about every account it writes, a
    # night with nothing new only about those still refused.
    for n in (1, 2):
        r, secs = enrolgen("run", "-c", "accounts.yaml", "--platform", "ecampus", "--out", "nightly",
                           "--as-of", AS_OF, "--delta", cwd=u)
        if r.returncode not in (0, 1):
            sys.exit(r.stderr)
        summary = json.loads((u / "nightly" / "summary.json").read_text())
        acc = [x for x in summary["sources"] if x["source"].endswith("(accounts)")][0]
        name = f"--delta, night {n}" + (" (nothing new)" if n == 2 else "")
        print(f"{name:34}{secs:>9.2f}{acc['requests']:>10}{acc['seconds']:>12.2f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
