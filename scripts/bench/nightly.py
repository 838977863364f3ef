#!/usr/bin/env python3
"""Nights side by side on a real Moodle 4.5.6: enrolgen's web services, Moodle's own
enrol_database sync and the upload file, on the same site and the same people.

    nightly.py --harness DIR [--students 20000] [--keep DIR] [--ways ws,ws-report,database,upload]

The generated university (scripts/bench/university.py), its Ecampus platform. Three
nights for each way, each way on a fresh site holding the users and courses:

  1. the first night: every enrolment of the plan;
  2. a 1 % night: one student in a hundred changed in Apogée, a third moved to another
     étape version (enrolled anew, the old enrolments suspended), a third cancelled
     (suspended), a third moved to another TD group;
  3. a quiet night: the same data again, nothing to do.

The ways:
  ws        `enrolgen run` with `deliver: webservice` (reads batched through
            tool_mobile_call_external_functions, groups read through
            core_group_get_group_members), sources included;
  ws-report the same, the courses' users read from the site's participants report
            (`moodle.participants_report`, made by scripts/moodle/participants_report.php);
  database  the anchor/ folder of the harness: enrol_database on an external table
            refilled from the night's plan, `sync.php` timed (no groups, no periods);
  upload    `enrolgen run --delta` and Moodle's Upload users CLI importing the night's
            file (the group moves left undone: a file cannot move anybody).

For each night: wall time, requests (web services), and the CPU the machine spent
outside enrolgen (Moodle's PHP and PostgreSQL run here; /proc/stat less enrolgen's
own rusage). Needs the harness set up and, for ws, its web server started:
  MOODLE_WS_WORKERS=2 ./ws-start.sh
"""

import argparse
import csv
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import webservice  # noqa: E402  (the site's reset and the machine's CPU, shared)
from webservice import busy as machine_cpu, sh  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "enrolgen"
AS_OF = "2026-11-24"
PLATFORM = "ecampus"
# The functions docs/webservices.md recommends besides the channel's own: batched
# reads, and the groups read apart from the users.
BATCH_SQL = (
    "PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc "
    "\"insert into mdl_external_services_functions (externalserviceid, functionname) "
    "select id, f from mdl_external_services, unnest(array['tool_mobile_call_external_functions', "
    "'core_group_get_group_members']) f where shortname = 'enrolgen'\""
)
# The participants report: the function that reads it, and the capability to see it.
REPORT_SQL = (
    "PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc "
    "\"insert into mdl_external_services_functions (externalserviceid, functionname) "
    "select id, 'core_reportbuilder_retrieve_report' from mdl_external_services where shortname = 'enrolgen'; "
    "insert into mdl_role_capabilities (contextid, roleid, capability, permission, timemodified, modifierid) "
    "select 1, id, 'moodle/reportbuilder:viewall', 1, 0, 2 from mdl_role where shortname = 'enrolgenws'\""
)
UPLOAD = (
    ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/tool/uploaduser/cli/uploaduser.php "
    "--file={f} --delimiter_name=semicolon --encoding=UTF-8 --uutype=3 --uuupdatetype=0 "
    "--uupasswordold=0 --uuallowrenames=0 --uuallowdeletes=0 --uuallowsuspends=0 "
    "--uustandardusernames=0 --uumatchemail=0 >/dev/null 2>&1"
)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Measure:
    """Wall time and the CPU spent outside the measured enrolgen processes."""

    def __enter__(self):
        self.t, self.m, self.c = time.monotonic(), machine_cpu(), children_cpu()
        self.own = 0.0
        return self

    def enrolgen(self, *args, cwd):
        c = children_cpu()
        r = subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True)
        self.own += children_cpu() - c
        if r.returncode not in (0, 1):
            sys.exit(f"enrolgen {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        return r

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t
        self.moodle_cpu = machine_cpu() - self.m - self.own
        return False


# ---------------------------------------------------------------- the 1 % night
def one_percent(src, dst, students):
    """The dump of the next night: one student in a hundred changed (see the module's
    doc). Returns how many of each change."""
    lines = Path(src).read_text(encoding="utf-8").splitlines()
    td = {}  # (étape, version) -> TD group ids
    vets = []
    for l in lines:
        m = re.match(r"INSERT INTO GPE_OBJ VALUES \(\d+,(\d+),'VET',NULL,'(\w+)',(\d+)\);", l)
        if m:
            td.setdefault((m.group(2), int(m.group(3))), []).append(int(m.group(1)))
        m = re.match(r"INSERT INTO VERSION_ETAPE VALUES \('(\w+)',(\d+),", l)
        if m:
            vets.append((m.group(1), int(m.group(2))))
    chosen = {1_000_001 + i: k % 3 for k, i in enumerate(range(51, students, 100))}
    vet_of = {}
    for l in lines:
        m = re.match(r"INSERT INTO INS_ADM_ETP VALUES \('2026',(\d+),'(\w+)',(\d+),1,", l)
        if m and int(m.group(1)) in chosen and int(m.group(1)) not in vet_of:
            vet_of[int(m.group(1))] = (m.group(2), int(m.group(3)))
    out = []
    for l in lines:
        m = re.match(r"INSERT INTO INS_ADM_ETP VALUES \('2026',(\d+),'(\w+)',(\d+),(\d+),'(\w)'(.*)$", l)
        if m and int(m.group(1)) in chosen:
            ind, change = int(m.group(1)), chosen[int(m.group(1))]
            if change == 0:  # moved to the next étape version
                old = (m.group(2), int(m.group(3)))
                new = vets[(vets.index(old) + 1) % len(vets)]
                l = f"INSERT INTO INS_ADM_ETP VALUES ('2026',{ind},'{new[0]}',{new[1]},{m.group(4)},'{m.group(5)}'{m.group(6)}"
            elif change == 1:  # cancelled
                l = f"INSERT INTO INS_ADM_ETP VALUES ('2026',{ind},'{m.group(2)}',{m.group(3)},{m.group(4)},'A'{m.group(6)}"
        m = re.match(r"INSERT INTO IND_AFFECTE_GPE VALUES \('2026',(\d+),(\d+)\);", l)
        if m and int(m.group(1)) in chosen and int(m.group(1)) in vet_of:
            ind, gid = int(m.group(1)), int(m.group(2))
            groups = td.get(vet_of[ind], [])
            if gid in groups:
                if chosen[ind] == 0:
                    old = vet_of[ind]
                    new = vets[(vets.index(old) + 1) % len(vets)]
                    l = f"INSERT INTO IND_AFFECTE_GPE VALUES ('2026',{ind},{td[new][0]});"
                elif chosen[ind] == 2 and len(groups) > 1:
                    l = f"INSERT INTO IND_AFFECTE_GPE VALUES ('2026',{ind},{groups[(groups.index(gid) + 1) % len(groups)]});"
        out.append(l)
    Path(dst).write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(chosen)


# ---------------------------------------------------------------- plans and sites
def plan_rows(out):
    """(username, course, role) of every enrolment a platform's files hold."""
    rows = set()
    for f in sorted((out / PLATFORM).glob(f"{PLATFORM}*.csv")):
        r = list(csv.reader(f.read_text().splitlines(), delimiter=";"))
        head = r[0]
        for row in r[1:]:
            for i, h in enumerate(head):
                if h.startswith("course") and row[i]:
                    n = h[len("course"):]
                    rows.add((row[0], row[i], row[head.index("role" + n)]))
    return rows


def fresh_site(harness, work, users, courses):
    world = work / "world.json"
    world.write_text(json.dumps({"users": [{"username": u} for u in sorted(users)],
                                 "courses": [{"shortname": c} for c in sorted(courses)]}))
    webservice.fresh_site(harness, world)


def config(u, night, channel, url=None, token=None, report=None):
    text = (u / "enrolgen.yaml").read_text()
    # The benchmark measures what a night costs, not the caps that guard it.
    text = text.replace("version: 1\n", "version: 1\nmax_suspend_ratio: 1\nmax_suspend_count: 1000000\n"
                        "max_suspend_platform_ratio: 1\n", 1)
    if night > 1:
        text = text.replace("sqlite: apogee.sql", "sqlite: apogee-night2.sql")
    if channel == "ws":
        extra = f", participants_report: {report}" if report else ""
        text = text.replace(f"  {PLATFORM}:\n",
                            f"  {PLATFORM}:\n    deliver: webservice\n    moodle: {{ url: \"{url}\", token_file: {token}{extra} }}\n", 1)
    name = f"{channel}{'-report' if report else ''}-night{night}.yaml"
    (u / name).write_text(text)
    return name


# ---------------------------------------------------------------- the ways
def way_ws(harness, u, a, with_report=False):
    token = Path(a.token_file).resolve()
    sh(harness, "./ws-setup.sh --quiet >/dev/null")
    sh(harness, BATCH_SQL)
    report = None
    if with_report:
        made = sh(harness, f". lib/env.sh && MOODLE_DIR=$MOODLE_DIR $PHP {ROOT / 'scripts/moodle/participants_report.php'}",
                  capture_output=True, text=True)
        report = int(made.stdout.strip())
        sh(harness, REPORT_SQL)
        sh(harness, ". lib/env.sh && $PHP $MOODLE_DIR/admin/cli/purge_caches.php")
    nights = []
    for night in (1, 2, 3):
        cfg = config(u, min(night, 2), "ws", a.url, token, report)
        with Measure() as m:
            m.enrolgen("run", "-c", cfg, "--platform", PLATFORM, "--out", "ws", "--as-of", AS_OF, cwd=u)
        w = json.loads((u / "ws" / "summary.json").read_text())["platforms"][PLATFORM]["webservice"]
        if w["refused"]:
            sys.exit(f"web services: night {night} refused {w['refused']}")
        nights.append((m.wall, m.moodle_cpu, w["calls"], w["applied"]))
    v = subprocess.run([str(BIN), "verify", "-c", config(u, 2, "ws", a.url, token, report), "--platform", PLATFORM,
                        "--out", "ws-verify", "--as-of", AS_OF], cwd=u, capture_output=True, text=True)
    if v.returncode != 0:
        sys.exit(f"verify after the web-service nights: exit {v.returncode}\n{v.stdout}{v.stderr}")
    return nights


def way_database(harness, u, plans):
    anchor = Path(harness) / "anchor"
    sh(harness, ". lib/env.sh && (psql_su -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'sis'\" | grep -q 1 "
                "|| psql_su -c \"CREATE ROLE sis LOGIN PASSWORD 'sis'\" -c \"CREATE DATABASE sis OWNER sis\")")
    sh(anchor, "./configure.sh >/dev/null")
    nights = []
    for night in (1, 2, 3):
        tsv = u / f"plan-night{min(night, 2)}.tsv"
        sh(anchor, f"./sis_table.sh {tsv} >/dev/null 2>&1")
        with Measure() as m:
            sh(anchor, ". ../lib/env.sh && $PHP sync.php 2>/dev/null")
        nights.append((m.wall, m.moodle_cpu, None, None))
    return nights


def way_upload(harness, u):
    nights = []
    for night in (1, 2, 3):
        cfg = config(u, min(night, 2), "files")
        with Measure() as m:
            m.enrolgen("run", "--delta", "-c", cfg, "--platform", PLATFORM, "--out", "nightly", "--as-of", AS_OF,
                       cwd=u)
            outbox = u / "nightly" / PLATFORM / "outbox"
            imported = u / "nightly" / PLATFORM / "imported"
            imported.mkdir(exist_ok=True)
            files = sorted(outbox.glob(f"{PLATFORM}-*.csv"))
            for f in files:
                sh(harness, UPLOAD.format(f=f))
                f.rename(imported / f.name)
        nights.append((m.wall, m.moodle_cpu, len(files), None))
    return nights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="the moodle-harness scripts folder")
    ap.add_argument("--students", type=int, default=20_000)
    ap.add_argument("--url", default="http://localhost:8088")
    ap.add_argument("--token-file", default="/tmp/moodle-harness/ws-token")
    ap.add_argument("--keep")
    ap.add_argument("--ways", default="database,upload,ws,ws-report")
    a = ap.parse_args()
    harness = Path(a.harness).resolve()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="enrolgen-nightly-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    u = work / "u"
    subprocess.run([sys.executable, str(ROOT / "scripts/bench/university.py"), str(u), "--students",
                    str(a.students)], check=True, stdout=subprocess.DEVNULL)
    changed = one_percent(u / "apogee.sql", u / "apogee-night2.sql", a.students)
    plans = {}
    for night in (1, 2):
        cfg = config(u, night, "files")
        r = subprocess.run([str(BIN), "run", "-c", cfg, "--platform", PLATFORM, "--out", f"plan{night}", "--as-of",
                            AS_OF], cwd=u, capture_output=True, text=True)
        if r.returncode not in (0, 1):
            sys.exit(r.stderr)
        plans[night] = plan_rows(u / f"plan{night}")
        (u / f"plan-night{night}.tsv").write_text("".join(f"{x}\t{y}\t{z}\n" for x, y, z in sorted(plans[night])))
    users = {r[0] for p in plans.values() for r in p}
    courses = {r[1] for p in plans.values() for r in p}
    print(f"{a.students:,} students; {PLATFORM}: {len(plans[1]):,} enrolments in {len(courses)} courses, "
          f"{len(users):,} accounts; night 2: {changed} students changed, "
          f"+{len(plans[2] - plans[1])} enrolments, -{len(plans[1] - plans[2])}; Moodle {a.url}")
    results = {}
    for way in a.ways.split(","):
        fresh_site(harness, work, users, courses)
        if way in ("ws", "ws-report"):
            results[way] = way_ws(harness, u, a, way == "ws-report")
        elif way == "database":
            results[way] = way_database(harness, u, plans)
        elif way == "upload":
            results[way] = way_upload(harness, u)
        print(f"  {way}: done", flush=True)
    print(f"\n{'way':10} | {'first night':>22} | {'1 % night':>22} | {'quiet night':>22}")
    print(f"{'':10} | {'wall s':>7} {'CPU-s':>7} {'req':>6} | {'wall s':>7} {'CPU-s':>7} {'req':>6} | "
          f"{'wall s':>7} {'CPU-s':>7} {'req':>6}")
    for way, nights in results.items():
        cells = " | ".join(f"{w:>7.1f} {c:>7.1f} {'' if r is None else r:>6}" for w, c, r, _ in nights)
        print(f"{way:10} | {cells}")
    print("\n(CPU-s: what the machine spent outside enrolgen during the night: Moodle's PHP and PostgreSQL;"
          " req: web-service requests, or files imported)")
    for ws in ("ws", "ws-report"):
        if ws in results and "database" in results:
            for n, label in ((1, "1 % night"), (2, "quiet night")):
                print(f"{ws} / enrol_database, {label}: wall {results[ws][n][0] / results['database'][n][0]:.1f}x, "
                      f"Moodle CPU {results[ws][n][1]:.1f} s")
        if ws in results and "upload" in results:
            print(f"first night, {ws} / upload file: {results[ws][0][0] / results['upload'][0][0]:.2f}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
