#!/usr/bin/env python3
"""The end-to-end benchmark's driver (scripts/bench.sh runs it after building).

Each figure is the best of --repeat runs of a whole process, timed with GNU time
(wall clock and peak resident memory). The floor is measured in the same run on the
same files: the sqlite3 shell loading the dump, creating the same indexes and running
the same set-based queries; ldapsearch paging out the directories' branches.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "target", "release", "enrolgen")
AS_OF = "2026-11-24"
# The secondary indexes a dump lacks (src/source/sis/query.rs INDEXES less the primary
# keys the dump has): the floor creates them too, as enrolgen does.
INDEXES = [
    "CREATE INDEX IF NOT EXISTS i1 ON INS_ADM_ETP (COD_ANU, COD_ETP, COD_VRS_VET)",
    "CREATE INDEX IF NOT EXISTS i2 ON IND_CONTRAT_ELP (COD_ANU, COD_ELP)",
    "CREATE INDEX IF NOT EXISTS i3 ON GPE_OBJ (COD_ETP, COD_VRS_VET)",
    "CREATE INDEX IF NOT EXISTS i4 ON GPE_OBJ (COD_ELP)",
    "CREATE INDEX IF NOT EXISTS i5 ON IND_AFFECTE_GPE (COD_GPE, COD_ANU)",
]
LDAP_ATTRS = ["uid", "supannAliasLogin", "supannEtuId", "supannEmpId", "eduPersonAffiliation",
              "supannRessourceEtat", "supannRessourceEtatDate", "createTimestamp", "objectClass"]


def timed(cmd, cwd=None, stdout=subprocess.DEVNULL):
    """(wall seconds, peak RSS MiB) of one run of cmd; fails loudly on a non-zero exit."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd, cwd=cwd,
                           stdout=stdout, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1):
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        return wall, int(tf.read().split()[-1]) / 1024


def best(k, f):
    runs = [f() for _ in range(k)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def sql_floor(data, year):
    """The floor script: the dump, the indexes, ANALYZE, the four set-based queries."""
    cohorts = json.load(open(os.path.join(data, "cohorts.json")))
    lit = lambda vs: ", ".join("'" + v + "'" for v in vs)
    versions = sorted({int(c.split("-")[-1]) for c in cohorts["vets"]})
    # The same lists enrolgen binds: groups are asked for the étapes of the cohorts
    # that want groups only.
    lists = {"etapes": lit(cohorts["etapes"]), "elements": lit(cohorts["elements"]),
             "versions": ", ".join(map(str, versions))}
    group_etapes = lit(cohorts["group_etapes"])
    script = [".read apogee.sql"] + [i + ";" for i in INDEXES] + ["ANALYZE;", ".output /dev/null"]
    for q in ["students", "element_students", "groups_vet", "groups_elp"]:
        sql = open(os.path.join(REPO, "queries", q + ".sql"), encoding="utf-8").read()
        sql = "\n".join(l.split("--")[0] for l in sql.splitlines())
        if q == "groups_vet":
            sql = sql.replace("IN (:etapes)", f"IN ({group_etapes})")
        for name, values in lists.items():
            sql = sql.replace(f"IN (:{name})", f"IN ({values})")
        script.append(sql.replace(":annee", f"'{year}'").strip() + ";")
    path = os.path.join(data, "floor.sqlite3")
    open(path, "w", encoding="utf-8").write("\n".join(script) + "\n")
    return path


class Slapd:
    """A private slapd on a loopback port, loaded with slapadd, as the tests run it."""

    def __init__(self, data):
        self.dir = tempfile.mkdtemp(prefix="enrolgen-bench-slapd-")
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        conf = [
            "include /etc/ldap/schema/core.schema", "include /etc/ldap/schema/cosine.schema",
            "include /etc/ldap/schema/inetorgperson.schema",
            f"include {REPO}/tests/fixtures/ldap/supann-min.schema",
            "modulepath /usr/lib/ldap", "moduleload back_mdb", f"pidfile {self.dir}/slapd.pid",
            "sizelimit size.soft=500 size.prtotal=unlimited"]
        for name in ["unicaen", "universitice"]:
            os.makedirs(f"{self.dir}/{name}")
            conf += ["database mdb", "maxsize 4294967296", f'suffix "dc={name},dc=fr"',
                     f"directory {self.dir}/{name}", "index supannEtuId,supannAliasLogin,uid eq"]
        open(f"{self.dir}/slapd.conf", "w").write("\n".join(conf) + "\n")
        for name in ["unicaen", "universitice"]:
            subprocess.run(["/usr/sbin/slapadd", "-q", "-f", f"{self.dir}/slapd.conf", "-b", f"dc={name},dc=fr",
                            "-l", os.path.join(data, f"{name}.ldif")], check=True)
        subprocess.run(["sh", "-c", f"ulimit -n 4096; exec /usr/sbin/slapd -f {self.dir}/slapd.conf "
                        f"-h ldap://127.0.0.1:{self.port}/"], check=True)
        self.url = f"ldap://127.0.0.1:{self.port}"
        for _ in range(150):
            if subprocess.run(["timeout", "5", "ldapsearch", "-x", "-H", self.url, "-b", "dc=unicaen,dc=fr",
                               "-s", "base", "dn"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("slapd did not start")

    def stop(self):
        try:
            pid = open(f"{self.dir}/slapd.pid").read().strip()
            subprocess.run(["kill", pid])
            for _ in range(100):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.05)
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def summary(out):
    s = json.load(open(os.path.join(out, "summary.json")))
    return {t["source"]: t for t in s["sources"]}


def uploads(out):
    files = {}
    for root, _, names in os.walk(out):
        for n in names:
            if n.endswith(".csv"):
                p = os.path.join(root, n)
                files[os.path.relpath(p, out)] = open(p, "rb").read()
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="generate into (and keep) this directory")
    a = ap.parse_args()
    data = a.keep or tempfile.mkdtemp(prefix="enrolgen-bench-")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts/bench/university.py"), data,
                    "--students", str(a.students)], check=True)
    year = json.load(open(os.path.join(data, "cohorts.json")))["year"]
    dump_mb = os.path.getsize(os.path.join(data, "apogee.sql")) / 1e6
    ldif_mb = sum(os.path.getsize(os.path.join(data, f"{n}.ldif")) for n in ["unicaen", "universitice"]) / 1e6
    text = open(os.path.join(data, "enrolgen.yaml")).read()
    section = text[text.index("\ncohorts:"):text.index("\nenrol:")]
    cohorts = sum(1 for l in section.splitlines() if re.match(r"^  [a-z0-9-]+: \{", l))

    floor_sql = sql_floor(data, year)
    f_sql = best(a.repeat, lambda: timed(["sqlite3", ":memory:", f".read {floor_sql}"], cwd=data))

    out = os.path.join(data, "out-ldif")
    run = lambda cfg, o: lambda: (shutil.rmtree(o, ignore_errors=True),
                                  timed([BIN, "run", "-c", cfg, "--out", o, "--as-of", AS_OF], cwd=data))[1]
    e_ldif = best(a.repeat, run("enrolgen.yaml", out))
    s_ldif = summary(out)

    slapd = Slapd(data)
    try:
        def search(base):
            return timed(["ldapsearch", "-x", "-LLL", "-H", slapd.url, "-b", base, "-E", "pr=1000/noprompt",
                          "(objectClass=*)"] + LDAP_ATTRS)
        f_ldap = best(a.repeat, lambda: tuple(x + y for x, y in zip(search("ou=people,dc=unicaen,dc=fr"),
                                                                      search("ou=people,dc=universitice,dc=fr"))))
        cfg = open(os.path.join(data, "enrolgen.yaml")).read()
        for n in ["unicaen", "universitice"]:
            cfg = cfg.replace(f"{n}: {{ ldif: {n}.ldif,",
                              f'{n}: {{ ldap: {{ url: "{slapd.url}", base: "ou=people,dc={n},dc=fr" }},')
        open(os.path.join(data, "enrolgen-slapd.yaml"), "w").write(cfg)
        out_ldap = os.path.join(data, "out-slapd")
        e_ldap = best(a.repeat, run("enrolgen-slapd.yaml", out_ldap))
        s_ldap = summary(out_ldap)
    finally:
        slapd.stop()
    same = uploads(out) == uploads(out_ldap)

    apogee = next(v for k, v in s_ldif.items() if k.startswith("Apogée"))
    dirs_ldif = sum(v["seconds"] for k, v in s_ldif.items() if k.startswith("directory"))
    dirs_ldap = sum(v["seconds"] for k, v in s_ldap.items() if k.startswith("directory"))
    ldap_requests = sum(v["requests"] for k, v in s_ldap.items() if k.startswith("directory"))
    floor_ldif = f_sql[0]
    floor_ldap = f_sql[0] + f_ldap[0]
    enrol = sum(len(b.splitlines()) - 1 for k, b in uploads(out).items() if "left-out" not in k)

    print(f"\nenrolgen end-to-end benchmark — {a.students:,} students, {cohorts} cohorts, "
          f"dump {dump_mb:.0f} MB without secondary indexes, LDIF {ldif_mb:.0f} MB")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}; best of {a.repeat}")
    print(f"upload rows written: {enrol:,}; LDIF and slapd runs give identical files: {'yes' if same else 'NO'}\n")
    rows = [
        ("floor: sqlite3 shell, load dump + indexes + 4 set-based queries", f_sql),
        ("floor: ldapsearch, both branches, pages of 1000", f_ldap),
        ("enrolgen run, LDIF directories", e_ldif),
        ("  of which Apogée (load, index, queries; summary.json)", (apogee["seconds"], None)),
        ("  of which directories (LDIF)", (dirs_ldif, None)),
        ("enrolgen run, slapd directories", e_ldap),
        ("  of which directories (slapd)", (dirs_ldap, None)),
    ]
    print(f"{'stage':<66} {'seconds':>8} {'peak MiB':>9}")
    for label, (sec, mem) in rows:
        print(f"{label:<66} {sec:>8.2f} {'' if mem is None else f'{mem:>9.0f}'}")
    print()
    print(f"Apogée requests per run: {apogee['requests']}; LDAP requests (slapd run): {ldap_requests}")
    print(f"ratio LDIF run / floor (sqlite3):            {e_ldif[0] / floor_ldif:.2f}  (target ≤ 1.3)")
    print(f"ratio slapd run / floor (sqlite3 + ldapsearch): {e_ldap[0] / floor_ldap:.2f}")
    print(f"ratio slapd run / LDIF run:                  {e_ldap[0] / e_ldif[0]:.2f}  (target ≤ 1.3)")
    peak = max(e_ldif[1], e_ldap[1])
    print(f"peak memory: {peak:.0f} MiB = {peak * 1.048576:.0f} MB  (target ≤ 200 MB)")
    if not a.keep:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
