"""``nasbook course``: the command line of :mod:`nasbook.course`."""
from __future__ import annotations

import csv
import json

from ..course import grade, summary, write_student_copies


def cmd_student(args, extra=None) -> int:
    written = write_student_copies(args.source, args.out)
    print(f"wrote {len(written)} student notebooks (solution cells removed) to {args.out}")
    return 0


def cmd_grade(args, extra=None) -> int:
    rows = grade(args.folder, args.timeout, progress=not args.json)
    per_nb = summary(rows)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["notebook", "exercise", "ok", "message"])
            w.writeheader()
            w.writerows(rows)
    if args.json:
        print(json.dumps({"notebooks": per_nb, "exercises": rows}))
        return 0
    width = max(len(r["notebook"]) for r in rows) if rows else 10
    for r in rows:
        mark = "pass" if r["ok"] else "FAIL"
        print(f"{r['notebook']:{width}s}  {r['exercise']:28s} {mark}  {'' if r['ok'] else r['message'][:80]}")
    print()
    for nb, s in per_nb.items():
        print(f"{nb:{width}s}  {s['passed']}/{s['total']} exercises passed")
    return 0


def register(sub) -> None:
    c = sub.add_parser("course", help="student copies of the notebooks; grade submitted notebooks")
    csub = c.add_subparsers(dest="course_command", required=True)
    s = csub.add_parser("student", help="write the notebooks without their solution cells")
    s.add_argument("out", help="folder for the student copies")
    s.add_argument("--from", dest="source", default="notebooks", help="teacher notebooks (default: notebooks)")
    s.set_defaults(func=cmd_student)
    g = csub.add_parser("grade", help="run every notebook in a folder and report its exercises")
    g.add_argument("folder", help="folder of submitted notebooks (searched recursively)")
    g.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    g.add_argument("--csv", help="also write one row per (notebook, exercise) to this CSV file")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.set_defaults(func=cmd_grade)
