"""``pakcast report RUN_DIR``: build the briefing (HTML, PDF, JSON) from a run directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pakcast.forecast._cli_app import app, seed_option

console = Console()


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="A quarterly run directory (pakcast quarterly --out DIR) or an ITS "
                                             "study directory (pakcast its ... --out DIR)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write briefing.pdf (matplotlib; no browser needed)."),
    random_seed: int = seed_option(what="the bootstrap behind the peak-year claim"),
) -> None:
    """Write briefing.html (self-contained), briefing.pdf and briefing.json (every number shown) into RUN_DIR."""
    from pakcast.forecast.report import build_report

    with console.status(f"building the briefing from {run_dir} ..."):
        out = build_report(run_dir, pdf=pdf, random_seed=random_seed)
    import json

    briefing = json.loads(out["json"].read_text(encoding="utf-8"))
    for key in ("html", "pdf", "json"):
        if key in out:
            console.print(f"{key:>5}: {out[key]}")
    n_fig = len(briefing.get("figures", {}))
    console.print(f"figures: {n_fig} (PNG and SVG) in {out['figures']}")
    missing = briefing.get("missing") or {}
    for sid, reason in missing.items():  # each part by its section title, in words
        title = (briefing.get("sections", {}).get(sid) or {}).get("title") or sid.replace("_", " ")
        console.print(f"[yellow]not available in this run[/yellow] ({title}): {reason}", soft_wrap=True,
                      highlight=False)
