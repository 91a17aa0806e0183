"""``pakcast rerun MANIFEST``: repeat a recorded run and report whether its results match."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401

console = Console()
err_console = Console(stderr=True)

_STYLE = {"identical": "green", "equal": "green", "within_tolerance": "green", "not_compared": "yellow",
          "differs": "bold red", "missing": "bold red", "unverifiable": "bold red"}


def _fmt(x: Optional[float]) -> str:
    return "" if x is None else f"{x:.3g}"


@app.command("rerun")
def rerun_cmd(
    manifest: Path = typer.Argument(..., help="Run directory, its manifest.json, or a NAME.manifest.json sidecar."),
    out: Optional[Path] = typer.Option(None, "--out", help="Fresh directory for the repeated run "
                                       "(default: <run dir>.rerun-<UTC time> beside the recorded one)."),
    rtol: Optional[float] = typer.Option(None, "--rtol", help="Relative tolerance for seeded stochastic runs "
                                         "(default 1e-6; deterministic runs must match exactly)."),
    atol: float = typer.Option(1e-9, "--atol", help="Absolute tolerance for seeded stochastic runs."),
    allow_changed_inputs: bool = typer.Option(False, "--allow-changed-inputs",
                                              help="Repeat the run even if an input's sha256 changed."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds allowed to the repeated command."),
) -> None:
    """Re-execute a recorded run into a fresh directory and compare every output file.

    Exit code 0: every output matches (exactly for deterministic runs, within --rtol/--atol for
    seeded stochastic ones); 1: an output differs or is missing; 2: the manifest cannot be re-run;
    3: an input changed since the run (not repeated); 4: the repeated command failed.
    """
    from pakcast.forecast.rerun import RerunError, rerun

    try:
        rep = rerun(manifest, out, rtol=rtol, atol=atol, allow_changed_inputs=allow_changed_inputs,
                    timeout=timeout)
    except (RerunError, FileNotFoundError) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    console.print(f"rerun of {rep.command} run {rep.run_id} ({rep.manifest})")
    if rep.inputs:
        ti = Table(title="inputs (sha256 checked first)", title_justify="left")
        for c in ("input", "role", "status"):
            ti.add_column(c)
        for i in rep.inputs:
            ti.add_row(escape(i.path), escape(i.role or ""), {"ok": "[green]unchanged[/]", "missing": "[bold red]MISSING[/]",
                                              "changed": "[bold red]CHANGED[/]"}[i.status])
        console.print(ti)
    if not rep.inputs_ok:
        for i in rep.inputs:
            if i.status != "ok":
                err_console.print(f"[bold red]input mismatch:[/] {escape(str(i))}", soft_wrap=True)
        if rep.returncode is None:
            err_console.print("not repeated: the inputs differ from the recorded run "
                              "(use --allow-changed-inputs to repeat it anyway)")
            raise typer.Exit(code=rep.exit_code)
    for n in rep.notes:
        console.print(f"[yellow]note:[/] {escape(n)}")
    if rep.returncode != 0:
        err_console.print(f"[bold red]the repeated command failed[/] (exit {rep.returncode}): "
                          f"{escape(' '.join(rep.argv))}\n{escape(rep.stderr_tail)}", soft_wrap=True)
        raise typer.Exit(code=rep.exit_code)
    mode = (f"seeded stochastic run: numbers must agree within atol {rep.atol:g} + rtol {rep.rtol:g}"
            if rep.stochastic else "deterministic run: outputs must match exactly")
    t = Table(title=f"outputs ({mode})", title_justify="left")
    for c in ("file", "status", "max abs diff", "max rel diff", "detail"):
        t.add_column(c)
    for f in rep.files:
        s = _STYLE.get(f.status, "")
        t.add_row(escape(f.path), f"[{s}]{f.status}[/]" if s else f.status, _fmt(f.max_abs_diff), _fmt(f.max_rel_diff),
                  escape(f.detail))
    console.print(t)
    verdict = "[green]results match[/]" if rep.matches else "[bold red]results DO NOT match[/]"
    console.print(f"{verdict}; repeated run in {rep.new_dir} (report: rerun-report.json)")
    raise typer.Exit(code=rep.exit_code)
