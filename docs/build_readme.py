"""Assemble README.md from the sections in docs/readme/ (edit those, then run this script)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["_head.md", "quarterly.md", "report.md", "breaks_its.md", "bayes.md", "attribution.md",
         "likelihood.md", "foundation.md", "reliability.md", "performance.md", "_tail.md"]


def main() -> None:
    sections = []
    for name in PARTS:
        path = ROOT / "docs" / "readme" / name
        sections.append(path.read_text(encoding="utf-8").strip() + "\n")
    (ROOT / "README.md").write_text("\n".join(sections), encoding="utf-8")


if __name__ == "__main__":
    main()
