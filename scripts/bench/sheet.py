#!/usr/bin/env python3
"""Requester's sheet benchmark: a request of N rows, one student each (the student
numbers of the benchmark's generated university of N students, scripts/bench/
university.py, so that each row finds its account), two enrolments a row with a
group and a period, as CSV, and as .xlsx and .ods made by LibreOffice when it is
installed; `enrolgen adhoc --sheet` (release
binary) on each, timed with its peak memory, beside the floor measured in the same
run: unpacking the worksheet's XML (`unzip -p`), which any reader of the file must do.

    cargo build --release && python3 scripts/bench/sheet.py [--rows 100000] [--max-peak-mib 350]

With --max-peak-mib, exits 1 when a sheet's peak memory is above it (the issue's
bound for 100,000 rows is about 350 MB).
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "enrolgen")


def timed(cmd, cwd):
    """Seconds and peak memory (MiB) of a command, from GNU time."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, capture_output=True, text=True)
    s = time.perf_counter() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return s, int(m.group(1)) / 1024 if m else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--max-peak-mib", type=float, default=None)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="enrolgen-sheet-")
    subprocess.run(["python3", os.path.join(ROOT, "scripts", "bench", "university.py"), d,
                    "--students", str(args.rows)], check=True)
    ids = sorted(set(re.findall(r"^supannEtuId: (\d+)$", open(os.path.join(d, "unicaen.ldif")).read(), re.M)))
    with open(os.path.join(d, "demande.csv"), "w", encoding="utf-8") as f:
        f.write("N° étudiant;Nom;Cours 1;Rôle 1;Groupe 1;Durée 1;Cours 2;Rôle 2\n")
        for i in range(args.rows):
            f.write(f"{ids[i % len(ids)]};Nom {i};ATELIER-{i % 40};Étudiant;TD {i % 12};60;TUTORAT-{i % 7};Étudiant\n")
    with open(os.path.join(d, "one.csv"), "w", encoding="utf-8") as f:
        f.write("N° étudiant;Cours 1;Rôle 1\n")
        f.write(f"{ids[0]};ATELIER-0;Étudiant\n")
    sheets = ["one.csv", "demande.csv"]
    if shutil.which("soffice"):
        profile = tempfile.mkdtemp()
        for fmt in ("xlsx", "ods"):
            subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                            "--infilter=CSV:59,34,76,1", "--convert-to", fmt, "demande.csv"],
                           cwd=d, capture_output=True, check=True)
            sheets.append(f"demande.{fmt}")
    print(f"{args.rows} rows, {min(args.rows, len(ids))} distinct students; enrolgen adhoc --sheet, release build")
    print("one.csv: a one-row sheet, what the university's directory costs (read whole from its LDIF)")
    print(f"{'file':<14}{'size':>10}{'seconds':>10}{'peak MiB':>10}{'floor s':>10}")
    over = []
    for s in sheets:
        out = os.path.join(d, "out-" + s.replace(".", "-"))
        cmd = [BIN, "adhoc", "-c", "enrolgen.yaml", "--platform", "ecampus", "--sheet", s,
               "--out", out, "--as-of", "2026-11-24"]
        secs, mib = min(timed(cmd, d) for _ in range(3))
        if s.endswith("csv"):
            floor = min(timed(["cat", s], d)[0] for _ in range(3))
        else:
            entry = "xl/worksheets/sheet1.xml" if s.endswith("xlsx") else "content.xml"
            floor = min(timed(["unzip", "-p", s, entry], d)[0] for _ in range(3))
        size = os.path.getsize(os.path.join(d, s))
        print(f"{s:<14}{size / 1e6:>9.1f}M{secs:>10.2f}{mib:>10.0f}{floor:>10.2f}")
        if args.max_peak_mib is not None and mib > args.max_peak_mib:
            over.append(f"{s}: {mib:.0f} MiB")
    shutil.rmtree(d)
    if over:
        raise SystemExit(f"peak memory above {args.max_peak_mib:.0f} MiB: {', '.join(over)}")


if __name__ == "__main__":
    main()
