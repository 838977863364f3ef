#!/usr/bin/env python3
"""What a web-service night's reads cost Moodle, read by read, on the harness's site
as scripts/bench/nightly.py leaves it (--keep): every course's users through
core_enrol_get_enrolled_users with fewer and fewer fields, the groups through the
group functions instead, and the course ids three ways. Each read goes through
tool_mobile_call_external_functions, fifty calls a request, one request at a time;
wall time and the CPU the machine spent (/proc/stat).

    moodle_reads.py [--url URL] [--token-file FILE] [READ ...]
    READ: enrolled, enrolled-roles, enrolled-bare, group-members, course-ids (default: all)

The service needs core_group_get_group_members for group-members (not in
enrolgen's list: it needs moodle/course:managegroups, which a read-only token lacks).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

PSQL = "PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc"


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def sql(query):
    return subprocess.run(["bash", "-c", f'{PSQL} "{query}"'], capture_output=True, text=True,
                          check=True).stdout.split()


class Site:
    def __init__(self, url, token):
        self.url, self.token = url + "/webservice/rest/server.php", token

    def call(self, function, params):
        data = urllib.parse.urlencode([("wstoken", self.token), ("wsfunction", function),
                                       ("moodlewsrestformat", "json")] + params).encode()
        return json.loads(urllib.request.urlopen(urllib.request.Request(self.url, data=data)).read())

    def batched(self, calls):
        """The answers of these (function, arguments) calls, fifty a request."""
        out = []
        for i in range(0, len(calls), 50):
            params = []
            for k, (function, args) in enumerate(calls[i:i + 50]):
                params += [(f"requests[{k}][function]", function), (f"requests[{k}][arguments]", json.dumps(args))]
            for r in self.call("tool_mobile_call_external_functions", params)["responses"]:
                if r["error"]:
                    sys.exit(f"error: {r['exception'][:300]}")
                out.append(json.loads(r["data"]) if r["data"] else None)
        return out


def timed(label, f):
    t, c = time.monotonic(), machine_cpu()
    detail = f()
    print(f"{label:52} {time.monotonic() - t:7.2f} s wall {machine_cpu() - c:7.2f} CPU-s  {detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://localhost:8088")
    ap.add_argument("--token-file", default="/tmp/moodle-harness/ws-token")
    ap.add_argument("reads", nargs="*")
    a = ap.parse_args()
    site = Site(a.url, open(a.token_file).read().strip())
    ids = [int(x) for x in sql("select id from mdl_course where id > 1 order by id")]
    names = sql("select shortname from mdl_course where id > 1 order by id")
    reads = a.reads or ["enrolled", "enrolled-roles", "enrolled-bare", "group-members", "course-ids"]

    def enrolled(fields):
        def read():
            calls = [("core_enrol_get_enrolled_users",
                      {"courseid": c, "options": [{"name": "userfields", "value": fields},
                                                  {"name": only, "value": "1"}]})
                     for c in ids for only in ("onlyactive", "onlysuspended")]
            return f"{sum(len(x) for x in site.batched(calls)):,} users, {len(calls)} calls"
        return read

    def members():
        groups = [g["id"] for answer in site.batched([("core_group_get_course_groups", {"courseid": c})
                                                       for c in ids]) for g in answer]
        calls = [("core_group_get_group_members", {"groupids": groups[i:i + 100]})
                 for i in range(0, len(groups), 100)]
        n = sum(len(g["userids"]) for answer in site.batched(calls) for g in answer)
        return f"{len(groups):,} groups, {n:,} members"

    for read in reads:
        if read == "enrolled":
            timed("get_enrolled_users id,username,groups,roles", enrolled("id,username,groups,roles"))
        elif read == "enrolled-roles":
            timed("get_enrolled_users id,username,roles", enrolled("id,username,roles"))
        elif read == "enrolled-bare":
            timed("get_enrolled_users id,username", enrolled("id,username"))
        elif read == "group-members":
            timed("get_course_groups + get_group_members", members)
        elif read == "course-ids":
            timed("course ids, one call per shortname",
                  lambda: len(site.batched([("core_course_get_courses_by_field",
                                             {"field": "shortname", "value": n}) for n in names])))
            timed("course ids, one call by ids",
                  lambda: len(site.call("core_course_get_courses_by_field",
                                        [("field", "ids"), ("value", ",".join(map(str, ids)))])["courses"]))
        else:
            sys.exit(f"unknown read {read}")


if __name__ == "__main__":
    main()
