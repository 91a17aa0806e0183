"""The worked examples in docs/examples run as written: the quarterly run, its briefing, and an ITS
study on a user's CSV (the Sicily reference file; skipped without ../shared)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _run(script: str, *args: str, cwd: Path) -> str:
    r = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, capture_output=True, text=True,
                       timeout=900, check=False)
    assert r.returncode == 0, f"{script}\n{r.stdout}\n{r.stderr[-3000:]}"
    assert "Warning" not in r.stderr, r.stderr[-2000:]
    return r.stdout


def test_quarterly_and_briefing_examples(tmp_path):
    out = _run("quarterly.py", "q", cwd=tmp_path)
    assert "published model" in out and "sources: UCDP GED" in out
    res = json.loads((tmp_path / "q" / "results.json").read_text())
    assert res["kind"] == "quarterly" and res["not_produced"].get("briefing") is None
    out = _run("briefing.py", "q", cwd=tmp_path)
    assert "pakcast quarterly briefing (quarterly)" in out and (tmp_path / "q" / "briefing.pdf").exists()


def test_its_own_data_example(reference_dir, tmp_path):
    shutil.copy(reference_dir / "sicily.csv", tmp_path / "sicily.csv")
    out = _run("its_own_data.py", "sicily.csv", "study", cwd=tmp_path)
    assert "0.885" in out and "2,561 fewer in total" in out
    res = json.loads((tmp_path / "study" / "results.json").read_text())
    assert res["kind"] == "its" and res["sources"][0]["file"] == "sicily.csv"
    assert "UCDP" not in (tmp_path / "study" / "briefing.html").read_text()
