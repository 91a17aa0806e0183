"""No code path executes or unpickles input content; data-derived output names cannot escape.

The source scan is an AST walk over ``forecast/`` and ``models/`` (not a plain grep, so comments
and docstrings that mention the words do not count, and aliases such as ``from pickle import
loads`` do).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pakcast.forecast.io import safe_join, safe_name

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "forecast").rglob("*.py"), *(REPO / "models").rglob("*.py")])

FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib", "yaml"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "read_pickle", "to_pickle", "system", "popen",
                   "loads_pickle"}
# subprocess is allowed only where the argument list is pakcast's own: git for the revision, and
# `python -m pakcast` for `pakcast rerun`; never with shell=True.
SUBPROCESS_ALLOWED = {"forecast/manifest.py", "forecast/rerun.py"}


def _violations(path: Path, rel: str | None = None) -> list[str]:
    rel = rel or path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                if root in FORBIDDEN_MODULES:
                    out.append(f"{rel}:{node.lineno}: import {a.name}")
                if root == "subprocess" and rel not in SUBPROCESS_ALLOWED:
                    out.append(f"{rel}:{node.lineno}: import subprocess")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in FORBIDDEN_MODULES or (root == "subprocess" and rel not in SUBPROCESS_ALLOWED):
                out.append(f"{rel}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in FORBIDDEN_CALLS:
                # re.compile / np.compile-like attribute calls on other objects are fine
                if not (name == "compile" and isinstance(f, ast.Attribute)):
                    out.append(f"{rel}:{node.lineno}: call {name}()")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    out.append(f"{rel}:{node.lineno}: allow_pickle={ast.unparse(kw.value)}")
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    out.append(f"{rel}:{node.lineno}: shell={ast.unparse(kw.value)}")
            if name == "load" and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                    and f.value.id == "yaml":
                if not any(kw.arg == "Loader" and "Safe" in ast.unparse(kw.value) for kw in node.keywords):
                    out.append(f"{rel}:{node.lineno}: yaml.load without SafeLoader")
    return out


def test_sources_exist():
    assert len(SOURCES) > 40


def test_no_code_path_unpickles_or_evaluates_input():
    bad = [v for p in SOURCES for v in _violations(p)]
    assert not bad, "forbidden constructs:\n" + "\n".join(bad)


def test_scanner_catches_each_construct(tmp_path):
    """The scanner itself works: each forbidden construct in a planted file is found."""
    planted = tmp_path / "planted.py"
    code = ("import pickle\nfrom yaml import load\nimport numpy as np\nimport subprocess\n"
            "x = eval('1')\nexec('y=1')\nnp.load('f.npy', allow_pickle=True)\n"
            "subprocess.run('ls', shell=True)\nimport pandas as pd\npd.read_pickle('f')\n")
    planted.write_text(code, encoding="utf-8")
    v = _violations(planted, rel="forecast/planted.py")
    text = "\n".join(v)
    for needle in ("import pickle", "from yaml", "import subprocess", "call eval", "call exec",
                   "allow_pickle=True", "shell=True", "call read_pickle"):
        assert needle in text, needle


@pytest.mark.case("data-derived-names", fault="data-derived output names (`../../etc/passwd`, `/etc/passwd`, `..`, NUL, RTL override, 500 chars)",
                  how="unit + hypothesis on `safe_join`; a briefing figure named `../../etc/passwd`",
                  outcome="always inside the output directory; no file outside")
@pytest.mark.parametrize("name", ["../../etc", "../../../etc/passwd", "/etc/passwd", "..", ".", "...", "",
                                  "a/../../b", "..\\..\\windows", "Khyber Pakhtunkhwa", "x\x00y", "\u202e..gpj",
                                  "~root", "$HOME", "a" * 500])
def test_safe_join_never_escapes(tmp_path, name):
    base = tmp_path / "out"
    base.mkdir()
    target = safe_join(base, name)
    assert base.resolve() in target.parents
    assert "/" not in safe_name(name) and "\\" not in safe_name(name) and not safe_name(name).startswith(".")
    assert len(safe_name(name)) <= 80


@pytest.mark.case("data-derived-names")
@settings(max_examples=200, deadline=None, derandomize=True)
@given(parts=st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_safe_join_property(tmp_path_factory, parts):
    base = tmp_path_factory.getbasetemp() / "base"
    t = safe_join(base, *parts)
    assert base.resolve() == t or base.resolve() in t.parents
    assert len(t.relative_to(base.resolve()).parts) == len(parts)


@pytest.mark.case("data-derived-names")
def test_figure_named_from_data_stays_in_its_directory(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from pakcast.forecast.report.figures import new_figure, save_figure

    figs = tmp_path / "run" / "figures"
    figs.mkdir(parents=True)
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    rec = save_figure(fig, figs, "../../etc/passwd", "t", "c", "s")
    for p in (rec.png, rec.svg):
        assert Path(p).resolve().parent == figs.resolve()
    assert not (tmp_path / "etc").exists()
    assert sorted(os.listdir(tmp_path)) == ["run"]


@pytest.mark.case("unknown-provinces")
def test_province_named_like_a_path_is_rejected_not_used(tmp_path):
    from pakcast.forecast.sources import read_source
    from pakcast.forecast.validate import ValidationError

    p = tmp_path / "evil.csv"
    p.write_text("event_id,date,killed,province\na,2015-01-01,1,../../etc\nb,2015-01-01,1,Punjab\n",
                 encoding="utf-8")
    with pytest.raises(ValidationError, match="province"):
        read_source(p, "csv")
    res = read_source(p, "csv", on_error="report")
    assert res.events["province"].tolist() == ["Punjab"]
    assert "../../etc" in res.rejects["value"].iloc[0]
