"""The README's table of faults and bad inputs is the rendering of what the tests recorded.

Every ``@pytest.mark.case`` in the reliability tests must have an entry in ``cases.json`` (written by
the tests, ``PAKCAST_RECORD_CASES=1``) whose result is ``passed`` (or ``skipped`` where a case needs
root or ``../shared``), and ``docs/readme/reliability.md`` must hold exactly the rendered table.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _render_module():
    spec = importlib.util.spec_from_file_location("render_cases", HERE / "render_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _case_ids_in_tests() -> set[str]:
    ids = set()
    for f in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "case"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                ids.add(node.args[0].value)
    return ids


def test_every_case_in_the_tests_has_a_recorded_passing_outcome():
    cases = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))
    in_tests = _case_ids_in_tests()
    assert in_tests, "no @pytest.mark.case found"
    missing = sorted(in_tests - set(cases))
    assert not missing, f"cases never recorded (run PAKCAST_RECORD_CASES=1 pytest on them): {missing}"
    stale = sorted(set(cases) - in_tests)
    assert not stale, f"cases.json lists cases no test has any more: {stale}"
    bad = {c: cases[c]["result"] for c in in_tests if cases[c]["result"] not in ("passed", "skipped")}
    assert not bad, bad
    assert all(cases[c].get("fault") and cases[c].get("outcome") for c in in_tests)


def test_readme_table_is_the_rendering_of_the_recorded_cases():
    mod = _render_module()
    cases = json.loads(mod.CASES_JSON.read_text(encoding="utf-8"))
    doc = mod.DOC.read_text(encoding="utf-8")
    assert mod.rendered_doc(doc, cases) == doc, "run: python tests/reliability/render_cases.py"
