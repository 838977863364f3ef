#!/usr/bin/env python3
"""The Pégase end-to-end benchmark (scripts/bench-pegase.sh runs it after building).

    pegase.py [--students 50000] [--repeat 3] [--keep DIR]

Generates the benchmark university (scripts/bench/university.py --pegase) with its
students in Pégase's DRE tables too, loads them into a private PostgreSQL on loopback
(COPY, then VACUUM ANALYZE, as a nightly refresh leaves them), makes the read-only role
of config/pegase-readonly.sql, and measures in the same run:

- the floor: psql, as the read-only role, running the same three set-based queries
  (queries/pegase/*.sql with the run's lists written out), rows sent to /dev/null;
- enrolgen run reading its cohorts from Pégase (LDIF directories), and its Pégase
  part from summary.json;
- enrolgen run reading the same university from Apogée (the SQLite dump), beside it.

Each figure is the best of --repeat runs of a whole process (GNU time: wall clock,
peak resident memory).
"""
import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import AS_OF, BIN, REPO, best, summary, timed, uploads  # noqa: E402

PASSWORD = "bench-ro-secret"


class Postgres:
    """A private cluster on a loopback port, owned by `postgres` when run as root."""

    def __init__(self):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        if not versions:
            sys.exit("PostgreSQL is not installed: run scripts/install-test-deps.sh")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.dir = tempfile.mkdtemp(prefix="enrolgen-bench-pg-")
        self.root = os.geteuid() == 0
        if self.root:
            subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.owner(["initdb", "-D", "data", "-U", "admin", "--auth-local=trust", "--auth-host=scram-sha-256",
                    "-E", "UTF8", "--locale=C.UTF-8"])
        with open(os.path.join(self.dir, "data", "postgresql.auto.conf"), "w") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                    "shared_buffers = 256MB\nwork_mem = 64MB\n")
        self.owner(["pg_ctl", "-D", "data", "-l", "log", "-w", "-o", f"-p {self.port}", "start"])

    def owner(self, argv, stdin=None, stdout=subprocess.DEVNULL):
        cmd = [os.path.join(self.bin, argv[0])] + argv[1:]
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, cwd=self.dir, stdin=stdin, stdout=stdout, check=True)

    def psql(self, db, args, stdin=None):
        self.owner(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                    "-U", "admin", "-d", db] + args, stdin=stdin)

    def stop(self):
        try:
            self.owner(["pg_ctl", "-D", "data", "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def pegase_config(data, port):
    """The benchmark's configuration with its cohorts read from Pégase."""
    text = open(os.path.join(data, "enrolgen.yaml"), encoding="utf-8").read()
    open(os.path.join(data, "dre-password"), "w").write(PASSWORD + "\n")
    block = (f"pegase:\n  postgres: {{ host: 127.0.0.1, port: {port}, dbname: dre, user: enrolgen_ro, "
             f"password_file: dre-password, sslmode: disable }}\n  period: \"PER-{{year}}\"\n")
    text = text.replace("apogee:\n  sqlite: apogee.sql\n  payment: [P]\n", block)
    text = re.sub(r"apogee: \{ etape: ([A-Z0-9]+), version: (\d+)", r"pegase: { formation: \1-\2", text)
    open(os.path.join(data, "enrolgen-pegase.yaml"), "w", encoding="utf-8").write(text)
    return text


def floor_script(data, config, year):
    """psql's script: the three queries of a run with its lists written out."""
    formations = sorted(set(re.findall(r"pegase: \{ formation: ([A-Z0-9-]+) \}", config)) |
                        set(re.findall(r"pegase: \{ formation: ([A-Z0-9-]+), groups", config)))
    pairs = re.findall(r"pegase: \{ formation: ([A-Z0-9-]+), element: ([A-Z0-9]+)", config)
    elements = sorted({e for _, e in pairs})
    grouped = set(re.findall(r"pegase: \{ formation: ([A-Z0-9-]+), groups: true", config))
    objets = sorted(grouped | set(elements))
    lit = lambda vs: ", ".join("'" + v + "'" for v in vs)
    lists = {"formations": lit(formations), "elements": lit(elements), "objets": lit(objets),
             "statuts": "'VALIDEE'"}
    script = ["\\o /dev/null"]
    for q in ["students", "element_students", "groups"]:
        sql = open(os.path.join(REPO, "queries", "pegase", q + ".sql"), encoding="utf-8").read()
        sql = "\n".join(l.split("--")[0] for l in sql.splitlines())
        for name, values in lists.items():
            sql = sql.replace(f"IN (:{name})", f"IN ({values})")
        script.append(sql.replace(":periode", f"'PER-{year}'").strip() + ";")
    path = os.path.join(data, "floor-pegase.sql")
    open(path, "w", encoding="utf-8").write("\n".join(script) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="generate into (and keep) this directory")
    a = ap.parse_args()
    data = a.keep or tempfile.mkdtemp(prefix="enrolgen-bench-pegase-")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts/bench/university.py"), data,
                    "--students", str(a.students), "--pegase"], check=True)
    year = json.load(open(os.path.join(data, "cohorts.json")))["year"]
    pg = Postgres()
    try:
        pg.psql("postgres", ["-c", "CREATE DATABASE dre"])
        with open(os.path.join(data, "pegase-postgres.sql"), "rb") as f:
            pg.psql("dre", [], stdin=f)
        pg.psql("dre", ["-c", "VACUUM ANALYZE"])
        with open(os.path.join(REPO, "config", "pegase-readonly.sql"), "rb") as f:
            pg.psql("dre", ["-v", f"password='{PASSWORD}'"], stdin=f)
        config = pegase_config(data, pg.port)
        floor = floor_script(data, config, year)
        env_psql = [os.path.join(pg.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                    "-p", str(pg.port), "-U", "enrolgen_ro", "-d", "dre", "-f", floor]
        os.environ["PGPASSWORD"] = PASSWORD
        f_psql = best(a.repeat, lambda: timed(env_psql, cwd=data))
        del os.environ["PGPASSWORD"]
        run = lambda cfg, o: lambda: (shutil.rmtree(o, ignore_errors=True),
                                      timed([BIN, "run", "-c", cfg, "--out", o, "--as-of", AS_OF], cwd=data))[1]
        out_p = os.path.join(data, "out-pegase")
        e_pegase = best(a.repeat, run("enrolgen-pegase.yaml", out_p))
        s_pegase = summary(out_p)
    finally:
        pg.stop()
    out_a = os.path.join(data, "out-apogee")
    e_apogee = best(a.repeat, run("enrolgen.yaml", out_a))
    s_apogee = summary(out_a)
    pegase = next(v for k, v in s_pegase.items() if k.startswith("Pégase"))
    apogee = next(v for k, v in s_apogee.items() if k.startswith("Apogée"))
    rows_p = sum(len(b.splitlines()) - 1 for k, b in uploads(out_p).items() if "left-out" not in k)
    rows_a = sum(len(b.splitlines()) - 1 for k, b in uploads(out_a).items() if "left-out" not in k)
    cohorts = len(re.findall(r"^  [a-z0-9-]+: \{ pegase:", config, re.M))
    dre_mb = os.path.getsize(os.path.join(data, "pegase-postgres.sql")) / 1e6

    print(f"\nenrolgen Pégase benchmark — {a.students:,} students, {cohorts} Pégase cohorts, "
          f"DRE {dre_mb:.0f} MB (COPY) on PostgreSQL {os.path.basename(os.path.dirname(pg.bin))} on loopback")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}; best of {a.repeat}")
    print(f"upload rows written: Pégase {rows_p:,}, Apogée {rows_a:,}\n")
    table = [
        ("floor: psql, the 3 set-based queries, rows to /dev/null", f_psql),
        ("enrolgen run, cohorts from Pégase (PostgreSQL), LDIF directories", e_pegase),
        ("  of which Pégase (connect, 3 queries; summary.json)", (pegase["seconds"], None)),
        ("enrolgen run, cohorts from Apogée (SQLite dump), LDIF directories", e_apogee),
        ("  of which Apogée (load, index, queries; summary.json)", (apogee["seconds"], None)),
    ]
    print(f"{'stage':<68} {'seconds':>8} {'peak MiB':>9}")
    for label, (sec, mem) in table:
        print(f"{label:<68} {sec:>8.2f} {'' if mem is None else f'{mem:>9.0f}'}")
    print()
    print(f"Pégase requests per run: {pegase['requests']} ({pegase['records']:,} students)")
    print(f"ratio Pégase part / floor (psql): {pegase['seconds'] / f_psql[0]:.2f}")
    if not a.keep:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
