"""The manual's ITS and break examples (page docs/readme/breaks_its.md) run as written, on the files they name.

Every ``console`` block of the sections "An ITS study, end to end" and "Your own series" in
``docs/readme/breaks_its.md`` is parsed: each ``$ `` line (with ``\\`` continuations) is run in a
scratch directory holding the reference files (``../shared/reference``), and the output the block
shows (fragments separated by ``...``) must appear in what the command printed. Skips when
``../shared`` is absent.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "readme" / "breaks_its.md"
SECTIONS = ("### An ITS study, end to end", "### Your own series")


def doc_blocks(text: str) -> list[tuple[list[str], str]]:
    """``(commands, shown output)`` for each console block of the tested sections."""
    out = []
    for head in SECTIONS:
        start = text.index(head)
        nxt = text.find("\n### ", start + len(head))
        body = text[start:nxt if nxt > 0 else None]
        for block in re.findall(r"```console\n(.*?)```", body, flags=re.DOTALL):
            cmds, shown, cont = [], [], False
            for line in block.splitlines():
                if cont:  # a continuation of the command above
                    cmds[-1] = cmds[-1][:-1].rstrip() + " " + line.strip()
                elif line.startswith("$ "):
                    cmds.append(line[2:].strip())
                else:
                    shown.append(line)
                cont = bool(cmds) and cmds[-1].endswith("\\") and (cont or line.startswith("$ "))
            out.append((cmds, "\n".join(shown)))
    return out


def _norm(s: str) -> str:
    return " ".join(s.split())


def test_doc_blocks_are_found():
    blocks = doc_blocks(DOC.read_text(encoding="utf-8"))
    cmds = [c for b, _ in blocks for c in b]
    assert any(c.startswith("pakcast its --csv sicily.csv") for c in cmds)
    assert any(c.startswith("pakcast breaks --csv nile.csv") for c in cmds)
    assert all("\\" not in c for c in cmds)


def test_readme_its_and_breaks_examples_run(reference_dir, tmp_path):
    for name in ("sicily.csv",):
        shutil.copy(reference_dir / name, tmp_path / name)
    for cmds, shown in doc_blocks(DOC.read_text(encoding="utf-8")):
        printed = ""
        for cmd in cmds:
            argv = shlex.split(cmd)
            if argv[0] == "pakcast":
                argv = [sys.executable, "-m", "pakcast", *argv[1:]]
            elif argv[0] == "python":
                argv = [sys.executable, *argv[1:]]
            r = subprocess.run(argv, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                               env={**os.environ, "COLUMNS": "200"})
            assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
            assert "Traceback" not in r.stderr and "Warning" not in r.stdout + r.stderr, r.stderr
            printed += r.stdout + r.stderr
        for fragment in (f.strip() for f in _norm(shown).split("...")):
            if fragment:
                assert fragment in _norm(printed), f"shown in the README but not printed: {fragment!r}"
