"""Worked example 2: a briefing from a run directory, and its numbers from Python.

Run: ``python docs/examples/briefing.py RUN_DIR`` on a directory written by ``pakcast quarterly
--out RUN_DIR`` or ``pakcast its ... --out RUN_DIR`` (for example the one from
``docs/examples/quarterly.py``). :func:`pakcast.forecast.report.build_report` renders the run's
typed result into ``briefing.html`` (self-contained), ``briefing.pdf`` and ``briefing.json``
(every number the briefing shows).
"""

import json
import sys
from pathlib import Path

from pakcast.forecast.report import build_report
from pakcast.forecast.run_result import read_result

run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/example_quarterly")
result = read_result(run_dir)  # QuarterlyResult or ITSStudyResult
files = build_report(run_dir, result=result)
briefing = json.loads(files["json"].read_text(encoding="utf-8"))
print(f"{briefing['title']} ({result.kind}): {files['html']}, {files['pdf']}")
for msg in briefing.get("banner", []):
    print("NOTE:", msg["title"], msg["text"])
first = briefing["section_order"][0]
for item in briefing["sections"][first].get("items", []):
    print("-", item["text"])
for sid, reason in briefing["missing"].items():
    print(f"not available ({sid}): {reason}")
