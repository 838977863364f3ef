#!/usr/bin/env python3
"""The web-service channel against Moodle's upload tool, on a real Moodle 4.5.6.

For each platform of a generated university (2,000 students by default), on a fresh
site holding the users and courses its files name:
  1. the upload tool (admin/tool/uploaduser/cli/uploaduser.php) imports enrolgen's
     upload files, timed;
  2. the site is reset; `enrolgen run` with `deliver: webservice` applies the same plan
     (enrolments, groups, memberships), timed end to end (sources included);
  3. the same run again: nothing to change, only the reads (the floor of a run);
  4. `enrolgen verify` must exit 0.
Prints the times, the calls and the ratio web services / upload tool.

Needs the maintainers' Moodle harness (its scripts folder: --harness) set up and its web server
started; the README's numbers were measured with 4 workers and opcache on, as a
production PHP runs:
  MOODLE_WS_WORKERS=4 MOODLE_WS_PHP="php -d opcache.enable_cli=1 -d max_input_vars=5000 \
    -d memory_limit=2G" ./ws-start.sh
The token's service gets tool_mobile_call_external_functions (reads batched, as the
README recommends) unless --no-batch.
Usage:
  python3 scripts/bench/webservice.py --harness DIR [--students N] [--url URL]
          [--token-file FILE] [--keep DIR] [--no-batch] [--platform P]...
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "enrolgen"
AS_OF = "2026-11-24"
DELIMS = {";": "semicolon", ",": "comma"}
BATCH_SQL = (
    "PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc "
    "\"insert into mdl_external_services_functions (externalserviceid, functionname) "
    "select id, 'tool_mobile_call_external_functions' from mdl_external_services "
    "where shortname = 'enrolgen'\""
)


def busy():
    """CPU seconds spent so far by the whole machine (all cores; Linux's /proc/stat):
    Moodle's PHP and PostgreSQL run here too."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system (idle iowait) irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def sh(harness, script, **kw):
    return subprocess.run(["bash", "-c", script], cwd=harness, check=True, **kw)


def enrolgen(*args, cwd):
    t = time.monotonic()
    r = subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True)
    return r, time.monotonic() - t


def files_of(out, platform):
    d = out / platform
    names = sorted(p for p in d.glob(f"{platform}*.csv"))
    return names


def world_of(files):
    users, courses = set(), set()
    for f in files:
        text = f.read_text()
        delim = ";" if text.split("\n", 1)[0].count(";") else ","
        rows = list(csv.reader(text.splitlines(), delimiter=delim))
        head = rows[0]
        cols = [i for i, h in enumerate(head) if h.startswith("course")]
        for r in rows[1:]:
            users.add(r[0])
            courses.update(r[i] for i in cols if r[i])
    return {
        "users": [{"username": u} for u in sorted(users)],
        "courses": [{"shortname": c} for c in sorted(courses)],
    }, delim


def fresh_site(harness, world_file):
    sh(harness, "./reset.sh >/dev/null")
    sh(harness, f". lib/env.sh && $PHP lib/setup_fixtures.php {world_file} >/dev/null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="the moodle-harness scripts folder")
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--url", default="http://localhost:8088")
    ap.add_argument("--token-file", default="/tmp/moodle-harness/ws-token")
    ap.add_argument("--keep")
    ap.add_argument("--no-batch", action="store_true", help="one request per course read")
    ap.add_argument("--platform", action="append", help="only this platform (repeatable)")
    a = ap.parse_args()
    harness = Path(a.harness).resolve()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="enrolgen-ws-bench-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/bench/university.py"), str(work / "u"), "--students", str(a.students)],
        check=True,
    )
    u = work / "u"
    r, _ = enrolgen("run", "-c", "enrolgen.yaml", "--out", "files", "--as-of", AS_OF, cwd=u)
    if r.returncode not in (0, 1):
        sys.exit(f"files run failed: {r.stderr}")
    base = (u / "enrolgen.yaml").read_text()
    token = Path(a.token_file).resolve()
    totals = {"upload": 0.0, "ws": 0.0, "noop": 0.0, "upload_cpu": 0.0, "ws_cpu": 0.0}
    print(f"{a.students} students, Moodle {a.url}, as of {AS_OF}")
    print(f"{'platform':10} {'enrol':>6} {'groups':>6} {'members':>7} | {'upload tool':>11} | {'web services':>12} {'calls':>5} {'writes':>6} | {'no change':>9} {'calls':>5} {'writes':>6} | verify")
    for platform in a.platform or ("ecampus", "collegium", "prelude"):
        files = files_of(u / "files", platform)
        if not files:
            continue
        world, delim = world_of(files)
        wf = work / f"world-{platform}.json"
        wf.write_text(json.dumps(world))
        # 1. The upload tool, file after file.
        fresh_site(harness, wf)
        t, c = time.monotonic(), busy()
        for f in files:
            sh(
                harness,
                ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/tool/uploaduser/cli/uploaduser.php "
                f"--file={f} --delimiter_name={DELIMS[delim]} --encoding=UTF-8 --uutype=3 --uuupdatetype=0 "
                "--uupasswordold=0 --uuallowrenames=0 --uuallowdeletes=0 --uuallowsuspends=0 "
                "--uustandardusernames=0 --uumatchemail=0 >/dev/null 2>&1",
            )
        upload, upload_cpu = time.monotonic() - t, busy() - c
        # 2. The web services, on a fresh site.
        fresh_site(harness, wf)
        sh(harness, "./ws-setup.sh --quiet >/dev/null")
        if not a.no_batch:
            sh(harness, BATCH_SQL)
        cfg = base.replace(
            f"  {platform}:\n",
            f"  {platform}:\n    deliver: webservice\n    moodle: {{ url: \"{a.url}\", token_file: {token} }}\n",
            1,
        )
        (u / "ws.yaml").write_text(cfg)
        out = f"ws-{platform}"
        args = ("run", "-c", "ws.yaml", "--platform", platform, "--out", out, "--as-of", AS_OF)
        c = busy()
        r, ws = enrolgen(*args, cwd=u)
        ws_cpu = busy() - c
        if r.returncode not in (0, 1):
            sys.exit(f"web-service run failed: {r.stderr}")
        s = json.loads((u / out / "summary.json").read_text())["platforms"][platform]
        w = s["webservice"]
        # 3. Nothing to change.
        r, noop = enrolgen(*args, cwd=u)
        w2 = json.loads((u / out / "summary.json").read_text())["platforms"][platform]["webservice"]
        # 4. Moodle equals the plan.
        v, vt = enrolgen("verify", "-c", "ws.yaml", "--platform", platform, "--out", f"v-{platform}", "--as-of", AS_OF, cwd=u)
        ap_ = w["applied"]
        print(
            f"{platform:10} {ap_.get('enrol', 0):>6} {ap_.get('create_group', 0):>6} {ap_.get('add_member', 0):>7} | "
            f"{upload:>10.1f}s | {ws:>11.1f}s {w['calls']:>5} {w['write_calls']:>6} | "
            f"{noop:>8.1f}s {w2['calls']:>5} {w2['write_calls']:>6} | exit {v.returncode} in {vt:.1f}s"
        )
        if w["refused"] or w2["write_calls"] or v.returncode != 0:
            sys.exit(f"{platform}: refused {w['refused']}, second run wrote {w2['write_calls']}, verify {v.returncode}: {v.stderr}")
        totals["upload"] += upload
        totals["ws"] += ws
        totals["noop"] += noop
        totals["upload_cpu"] += upload_cpu
        totals["ws_cpu"] += ws_cpu
    ratio = totals["ws"] / totals["upload"]
    print(
        f"{'all':10} {'':>6} {'':>6} {'':>7} | {totals['upload']:>10.1f}s | {totals['ws']:>11.1f}s {'':>5} {'':>6} | {totals['noop']:>8.1f}s"
    )
    print(f"web services / upload tool: {ratio:.2f} (target <= 0.33); a run with nothing to change: {totals['noop']:.1f} s (reads only)")
    cores = os.cpu_count() or 1
    floor = totals["ws_cpu"] / cores
    print(
        f"CPU the machine spent (Moodle, PostgreSQL, enrolgen): upload tool {totals['upload_cpu']:.1f} s, "
        f"web services {totals['ws_cpu']:.1f} s; on {cores} cores the web services cannot take less than "
        f"{floor:.1f} s, a ratio of {floor / totals['upload']:.2f}"
    )
    if not a.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
