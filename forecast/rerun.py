"""Re-execute a recorded run from its manifest and say whether the results match.

``pakcast rerun MANIFEST [--out DIR]`` calls :func:`rerun`:

1. **Inputs first.** Every input recorded in the manifest is hashed again; a file that is missing
   or whose sha256 differs is reported (recorded and current hash) and the run is not repeated
   (exit code 3) unless ``allow_changed_inputs`` is set.
2. **Re-execution.** The recorded command line (``argv``, run from the recorded working
   directory ``cwd``) is executed again in a fresh process, with every output option that pointed at
   the recorded output (``--out DIR``, ``--json FILE``, ...) redirected into a fresh directory. A
   command that archives into a store (``pakcast quarterly``) is given a scratch store in the
   fresh directory, so a rerun never adds vintages to the user's store.
   A manifest whose ``status`` is not ``"complete"`` (a run killed or failed half-way) is refused:
   its outputs are partial.
3. **Comparison per output file** (the files listed in the manifest with their sha256):

   * ``identical``: same bytes;
   * ``equal``: same content once the fields that legitimately change between runs are set aside
     by rule (keys and columns matching :data:`VOLATILE`: run ids, creation times, durations, store
     vintage ids; inside any text, run/ingest/vintage ids and clock times (:data:`VOLATILE_TEXT`);
     the output path itself);
   * ``within_tolerance``: a seeded stochastic run (the manifest records ``random_seeds``) whose
     numbers differ by at most ``atol + rtol * |recorded|`` (default ``rtol = 1e-6``: with the
     same seed the draws are the same, so only floating-point noise is allowed; raise ``rtol`` to
     accept Monte Carlo error across platforms);
   * ``differs`` / ``missing`` / ``unverifiable`` (the recorded output itself changed since the
     run): a mismatch;
   * ``not_compared``: renderings (PNG, SVG, PDF, HTML) that embed creation dates; listed, not
     judged.

   Deterministic runs (no recorded seeds) must match exactly: any numeric difference is ``differs``.

Exit codes (:attr:`RerunReport.exit_code`): 0 every output matches; 1 an output differs or is
missing; 3 an input changed (run not repeated); 4 the repeated command failed.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pakcast.forecast.errors import InputError
from pakcast.forecast.io import sha256_file, write_json
from pakcast.forecast.manifest import RunManifest, git_revision, package_versions

__all__ = ["RerunError", "InputCheck", "FileComparison", "RerunReport", "load_manifest", "check_inputs",
           "rerun_argv", "compare_file", "rerun", "DEFAULT_RTOL", "DEFAULT_ATOL"]

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
RENDERINGS = (".png", ".svg", ".pdf", ".html", ".htm", ".jpg", ".jpeg")
#: Commands that write into a store; their rerun gets a scratch store instead of the user's.
STORE_WRITERS = ("quarterly",)
#: Keys (JSON) and columns (CSV) whose values change from run to run by design.
VOLATILE = re.compile(r"(^|_)(run_id|created|generated(_at)?|timings?(_seconds)?|seconds(_\w+)?|elapsed|"
                      r"wall_s|git_revision|vintage|vintage_id|earlier_vintages|manifest|scored_by|store)$")
MATCHING = ("identical", "equal", "within_tolerance", "not_compared")
#: Values inside free text that change from run to run by design: run, ingest and vintage ids and
#: date-times with a clock time (set aside wherever they appear, e.g. "Run run-2026...-ab12cd34 (git ...)").
VOLATILE_TEXT = re.compile(
    r"\b(?:run|ingest)-\d{8}T\d{6}-[0-9a-f]{8}\b"
    r"|\bv-\d{8}-\d{8}T\d{6}-[0-9a-f]{8}\b"
    r"|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?")


def mask_volatile(text: str) -> str:
    """``text`` with run ids and clock times replaced by placeholders (see :data:`VOLATILE_TEXT`)."""
    return VOLATILE_TEXT.sub("<volatile>", text)


class RerunError(InputError):
    """The manifest cannot be re-executed (unreadable, not a CLI run, no outputs...)."""


@dataclass
class InputCheck:
    """An input of the recorded run, hashed again."""

    path: str
    role: str | None
    recorded_sha256: str | None
    current_sha256: str | None
    status: str  # ok | changed | missing

    def __str__(self) -> str:
        if self.status == "ok":
            return f"{self.path}: unchanged"
        if self.status == "missing":
            return f"{self.path}: MISSING (recorded sha256 {self.recorded_sha256})"
        return (f"{self.path}: CHANGED since the run (recorded sha256 {self.recorded_sha256}, "
                f"now {self.current_sha256})")


@dataclass
class FileComparison:
    """One output file: recorded vs re-executed."""

    path: str
    status: str
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    n_values: int = 0
    detail: str = ""

    @property
    def matches(self) -> bool:
        return self.status in MATCHING


@dataclass
class RerunReport:
    """What :func:`rerun` found; ``exit_code`` is the CLI's."""

    manifest: str
    command: str
    run_id: str
    new_dir: str
    argv: list[str]
    stochastic: bool
    rtol: float
    atol: float
    inputs: list[InputCheck] = field(default_factory=list)
    files: list[FileComparison] = field(default_factory=list)
    returncode: int | None = None
    stderr_tail: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def inputs_ok(self) -> bool:
        return all(i.status == "ok" for i in self.inputs)

    @property
    def matches(self) -> bool:
        return (self.returncode == 0 and bool(self.files) and all(f.matches for f in self.files))

    @property
    def exit_code(self) -> int:
        if not self.inputs_ok and self.returncode is None:
            return 3
        if self.returncode not in (None, 0):
            return 4
        return 0 if self.matches else 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(inputs_ok=self.inputs_ok, matches=self.matches, exit_code=self.exit_code)
        return d


# ---------------------------------------------------------------------------------------------
def load_manifest(path: str | os.PathLike) -> tuple[RunManifest, Path, Path]:
    """``(manifest, output_dir, manifest_file)`` from a manifest file or a run directory.

    Accepts ``DIR`` (with ``DIR/manifest.json``), ``DIR/manifest.json``, a sidecar
    ``NAME.manifest.json`` (single-file outputs such as ``pakcast breaks --json NAME.json``), or an
    output JSON that embeds its manifest under ``"manifest"`` (``pakcast hawkes``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.json"
    if not p.is_file():
        raise RerunError(f"no manifest at {p}: give a run directory or its manifest.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RerunError(f"{p} is not a JSON manifest ({exc})") from None
    if not isinstance(data, dict):
        raise RerunError(f"{p} is not a pakcast run manifest (a JSON object with 'command' and 'argv')")
    embedded = "command" not in data and isinstance(data.get("manifest"), dict)
    if embedded:
        data = data["manifest"]
    if "command" not in data or "argv" not in data:
        raise RerunError(f"{p} is not a pakcast run manifest (no 'command' / 'argv')")
    known = set(RunManifest.__dataclass_fields__)
    kwargs = {k: v for k, v in data.items() if k in known}
    kwargs.setdefault("cwd", None)
    m = RunManifest(**kwargs)
    if m.status != "complete":
        raise RerunError(f"{p}: the recorded {m.command} run {m.run_id} did not finish (manifest status "
                         f"{m.status!r}: it was killed or failed before writing all its outputs); there is nothing "
                         "complete to compare: run it again")
    if embedded:
        m.outputs = [{"path": p.name, "sha256": None}]
    return m, p.parent, p


def _resolve(path: str, cwd: Path) -> Path:
    q = Path(path)
    return q if q.is_absolute() else cwd / q


def check_inputs(manifest: RunManifest, cwd: Path | None = None) -> list[InputCheck]:
    """Hash every recorded input again (relative paths against the run's working directory)."""
    base = Path(cwd or manifest.cwd or os.getcwd())
    out = []
    for rec in manifest.inputs:
        p = _resolve(rec["path"], base)
        recorded = rec.get("sha256")
        if not p.is_file():
            out.append(InputCheck(rec["path"], rec.get("role"), recorded, None, "missing"))
            continue
        cur = sha256_file(p)
        out.append(InputCheck(rec["path"], rec.get("role"), recorded, cur, "ok" if cur == recorded else "changed"))
    return out


def _is_cli_argv(manifest: RunManifest) -> bool:
    argv = manifest.argv or []
    if len(argv) < 2:
        return False
    prog = Path(argv[0]).name
    first = manifest.command.split()[0]
    return (prog in ("pakcast", "cli.py", "__main__.py") or prog.startswith("pakcast")) and argv[1] == first


def rerun_argv(manifest: RunManifest, output_dir: Path, manifest_file: Path, new_dir: Path,
               scratch_store: Path | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """The recorded command line with its outputs redirected into ``new_dir``.

    Returns ``(argv, substitutions)``: ``argv`` without the program name, and the
    ``(old, new)`` path strings swapped (so that comparisons can ignore the output path itself).
    """
    if not _is_cli_argv(manifest):
        raise RerunError(
            f"the manifest's argv {manifest.argv[:3]}... is not a pakcast command line for {manifest.command!r} "
            "(it was written by a library call or a test harness): nothing to re-execute")
    cwd = Path(manifest.cwd or os.getcwd())
    dir_run = manifest_file.name == "manifest.json"
    out_dir = output_dir.resolve()
    out_files = {(out_dir / o["path"]).resolve(): o["path"] for o in manifest.outputs}
    args = list(manifest.argv[1:])
    subs: list[tuple[str, str]] = []
    redirected = False
    for i, a in enumerate(args):
        if i == 0:
            continue
        val, prefix = a, ""
        if a.startswith("--") and "=" in a:
            prefix, val = a.split("=", 1)
            prefix += "="
        if val.startswith("-") or not val:
            continue
        try:
            target = _resolve(val, cwd).resolve()
        except (OSError, RuntimeError):
            continue
        new: Path | None = None
        if dir_run and target == out_dir:
            new = new_dir
        elif target in out_files:
            new = new_dir / out_files[target]
        if new is not None:
            args[i] = prefix + str(new)
            subs.append((val, str(new)))
            subs.append((str(target), str(new)))
            redirected = True
    if not redirected and dir_run and "--out" not in args:
        # the run used the command's default output directory (e.g. quarterly's reports/latest)
        args += ["--out", str(new_dir)]
        subs.append((str(out_dir), str(new_dir)))
        redirected = True
    if not redirected:
        raise RerunError(f"no option of {manifest.argv} points at the recorded output in {output_dir}: "
                         "cannot redirect the rerun into a fresh directory")
    if manifest.command.split()[0] in STORE_WRITERS:
        store = str(scratch_store or (new_dir.parent / f".{new_dir.name}.store.duckdb"))
        if "--store" in args:
            k = args.index("--store")
            if k + 1 < len(args) and args[k + 1].lower() != "none":
                args[k + 1] = store
        elif not any(a.startswith("--store=") for a in args):
            args += ["--store", store]
    return args, subs


# ---------------------------------------------------------------------------------------------
class _Diff:
    def __init__(self, rtol: float, atol: float, exact: bool, subs: list[tuple[str, str]]):
        self.rtol, self.atol, self.exact = rtol, atol, exact
        self.subs = sorted(subs, key=lambda s: -len(s[0]))
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.n = 0
        self.beyond_tol = False
        self.problems: list[str] = []

    def _problem(self, where: str, msg: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(f"{where}: {msg}")
        else:
            self.problems.append("")

    def number(self, where: str, a: float, b: float) -> None:
        self.n += 1
        if (a is None or b is None) or (isinstance(a, float) and math.isnan(a)) or (
                isinstance(b, float) and math.isnan(b)):
            same = (a is None or (isinstance(a, float) and math.isnan(a))) == (
                b is None or (isinstance(b, float) and math.isnan(b)))
            if not same:
                self._problem(where, f"recorded {a!r}, rerun {b!r}")
            return
        a, b = float(a), float(b)
        if a == b:
            return
        d = abs(a - b)
        rel = d / abs(a) if a != 0 else math.inf
        self.max_abs = max(self.max_abs, d)
        self.max_rel = max(self.max_rel, rel)
        if self.exact:
            self._problem(where, f"recorded {a!r}, rerun {b!r} (a deterministic step must match exactly)")
        elif d > self.atol + self.rtol * abs(a):
            self._problem(where, f"recorded {a!r}, rerun {b!r} (beyond atol {self.atol:g} + rtol {self.rtol:g})")
        else:
            self.beyond_tol = True  # differs, but within tolerance

    def text(self, where: str, a: Any, b: Any) -> None:
        if a == b:
            return
        if isinstance(a, str) and isinstance(b, str):
            ma, mb = mask_volatile(a), mask_volatile(b)
            if ma == mb:
                return
            # the output path itself differs between the two runs: try each redirection on its own
            # (the first occurrence, then all), so that a short relative path cannot mangle other text
            for old, new in self.subs:
                if old and (ma.replace(old, new, 1) == mb or ma.replace(old, new) == mb):
                    return
        self._problem(where, f"recorded {a!r}, rerun {b!r}")

    def value(self, where: str, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if VOLATILE.search(str(k)):
                    continue
                if k not in a or k not in b:
                    self._problem(f"{where}.{k}", "present in only one of the two results")
                    continue
                self.value(f"{where}.{k}", a[k], b[k])
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self._problem(where, f"{len(a)} items recorded, {len(b)} in the rerun")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(f"{where}[{i}]", x, y)
        elif _isnum(a) and _isnum(b):
            self.number(where, a, b)
        elif (a is None and _isnum(b)) or (b is None and _isnum(a)):
            self.number(where, a, b)
        else:
            self.text(where, a, b)


def _isnum(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _read_csv(p: Path) -> pd.DataFrame:
    return pd.read_csv(p, dtype=str, keep_default_na=False)


def compare_file(old: Path, new: Path, recorded_sha: str | None, *, rtol: float = DEFAULT_RTOL,
                 atol: float = DEFAULT_ATOL, exact: bool = True,
                 subs: list[tuple[str, str]] | None = None, rel: str | None = None) -> FileComparison:
    """Compare one recorded output with its re-executed twin (statuses in the module docstring)."""
    rel = rel or old.name
    if not new.is_file():
        return FileComparison(rel, "missing", detail="the rerun did not write this file")
    new_sha = sha256_file(new)
    if recorded_sha is not None and new_sha == recorded_sha:
        return FileComparison(rel, "identical")
    if not old.is_file():
        return FileComparison(rel, "unverifiable", detail=f"the recorded output {old} no longer exists")
    if recorded_sha is not None and sha256_file(old) != recorded_sha:
        return FileComparison(rel, "unverifiable",
                              detail=f"the recorded output {old} was modified after the run (sha256 differs "
                                     "from the manifest)")
    if recorded_sha is None and sha256_file(old) == new_sha:
        return FileComparison(rel, "identical")
    suffix = "".join(new.suffixes[-2:]) if new.name.endswith(".gz") else new.suffix
    if suffix.lower() in RENDERINGS:
        return FileComparison(rel, "not_compared", detail="a rendering (embeds creation dates); bytes differ")
    diff = _Diff(rtol, atol, exact, subs or [])
    try:
        if suffix == ".json":
            diff.value("$", json.loads(old.read_text(encoding="utf-8")), json.loads(new.read_text(encoding="utf-8")))
        elif suffix in (".csv", ".csv.gz"):
            _compare_frames(diff, _read_csv(old), _read_csv(new))
        else:
            return FileComparison(rel, "differs", detail="bytes differ (no structured comparison for this type)")
    except (ValueError, UnicodeDecodeError) as exc:
        return FileComparison(rel, "differs", detail=f"cannot parse for comparison: {exc}")
    max_abs = diff.max_abs if diff.n else None
    max_rel = diff.max_rel if diff.n else None
    if diff.problems:
        shown = [p for p in diff.problems if p]
        more = len(diff.problems) - len(shown)
        return FileComparison(rel, "differs", max_abs, max_rel, diff.n,
                              "; ".join(shown) + (f" (and {more} more)" if more else ""))
    status = "within_tolerance" if diff.beyond_tol else "equal"
    note = "" if status == "equal" else f"numbers within atol {atol:g} + rtol {rtol:g}"
    if status == "equal":
        note = "same content; run-specific fields (ids, times, paths) set aside"
    return FileComparison(rel, status, max_abs, max_rel, diff.n, note)


def _compare_frames(diff: _Diff, a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols_a = [c for c in a.columns if not VOLATILE.search(c)]
    cols_b = [c for c in b.columns if not VOLATILE.search(c)]
    if cols_a != cols_b:
        diff._problem("columns", f"recorded {cols_a}, rerun {cols_b}")
        return
    if len(a) != len(b):
        diff._problem("rows", f"{len(a)} recorded, {len(b)} in the rerun")
        return
    for c in cols_a:
        x, y = a[c], b[c]
        if (x == y).all():
            diff.n += len(x)
            continue
        xn = pd.to_numeric(x.replace("", np.nan), errors="coerce")
        yn = pd.to_numeric(y.replace("", np.nan), errors="coerce")
        numeric = (xn.notna() | (x == "")).all() and (yn.notna() | (y == "")).all()
        for i in np.flatnonzero((x != y).to_numpy()):
            where = f"row {i + 2}, column {c!r}"
            if numeric:
                diff.number(where, float(xn.iloc[i]), float(yn.iloc[i]))
            else:
                diff.text(where, x.iloc[i], y.iloc[i])
        diff.n += int((x == y).sum())


# ---------------------------------------------------------------------------------------------
def _fresh_dir(output_dir: Path, manifest_file: Path, out: str | os.PathLike | None) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    if out is not None:
        new = Path(out)
    elif manifest_file.name == "manifest.json":  # a run directory: the rerun goes beside it
        new = output_dir.parent / f"{output_dir.name}.rerun-{stamp}"
    else:  # a single-file output with a sidecar manifest: a folder next to the file
        new = output_dir / f"{manifest_file.name[:-len('.manifest.json')]}.rerun-{stamp}"
    new = new.resolve()
    if new == output_dir.resolve():
        raise RerunError(f"{new} is the recorded run's directory: a rerun never overwrites recorded outputs")
    if new.exists() and (not new.is_dir() or any(new.iterdir())):
        raise RerunError(f"{new} exists and is not empty: a rerun writes into a fresh directory")
    return new


def rerun(manifest_path: str | os.PathLike, out: str | os.PathLike | None = None, *,
          rtol: float | None = None, atol: float = DEFAULT_ATOL, allow_changed_inputs: bool = False,
          timeout: float | None = None, python: str | None = None) -> RerunReport:
    """Repeat the run recorded in ``manifest_path`` into a fresh directory and compare (module docstring).

    Parameters
    ----------
    manifest_path : run directory, ``manifest.json``, sidecar ``NAME.manifest.json`` or an output JSON
        embedding its manifest.
    out : the fresh directory (default ``<output dir>.rerun-<UTC time>`` beside the recorded one).
    rtol, atol : tolerance for seeded stochastic runs (default ``rtol = 1e-6``); deterministic runs
        must match exactly whatever is given.
    allow_changed_inputs : repeat the run even when an input's sha256 differs (the comparison then
        shows the effect of the changed input).
    timeout : seconds allowed to the repeated command.
    python : interpreter that runs ``-m pakcast`` (default: this one).
    """
    manifest, output_dir, mfile = load_manifest(manifest_path)
    if not manifest.outputs:
        raise RerunError(f"{mfile} records no output files ({manifest.command!r} writes into the store, not "
                         "files): nothing to compare")
    cwd = Path(manifest.cwd) if manifest.cwd and Path(manifest.cwd).is_dir() else Path.cwd()
    stochastic = bool(manifest.random_seeds)
    rtol_ = DEFAULT_RTOL if rtol is None else float(rtol)
    new_dir = _fresh_dir(output_dir, mfile, out)
    rep = RerunReport(str(mfile), manifest.command, manifest.run_id, str(new_dir), [], stochastic,
                      rtol_ if stochastic else 0.0, atol if stochastic else 0.0)
    if manifest.cwd is None:
        rep.notes.append(f"the manifest does not record its working directory; relative paths resolved against {cwd}")
    rep.inputs = check_inputs(manifest, cwd)
    if not manifest.inputs:
        rep.notes.append("the manifest records no input files: input identity cannot be checked")
    if not rep.inputs_ok and not allow_changed_inputs:
        return rep
    rev = git_revision()
    if manifest.git_revision and rev and rev != manifest.git_revision:
        rep.notes.append(f"code revision differs: recorded {manifest.git_revision}, now {rev}")
    now_versions = package_versions()
    changed = {k: (v, now_versions.get(k)) for k, v in (manifest.package_versions or {}).items()
               if now_versions.get(k) != v}
    if changed:
        rep.notes.append("package versions differ: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()))
    argv, subs = rerun_argv(manifest, output_dir, mfile, new_dir)
    rep.argv = ["pakcast", *argv]
    new_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PAKCAST_FAULT", "PAKCAST_PAUSE")}
    env.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.run([python or sys.executable, "-m", "pakcast", *argv], cwd=cwd, env=env,
                                  stdout=subprocess.DEVNULL, stderr=err, timeout=timeout, text=True)
            rep.returncode = proc.returncode
        except subprocess.TimeoutExpired:
            rep.returncode = 124
            rep.notes.append(f"the repeated command ran past {timeout} s and was stopped")
        err.seek(0)
        rep.stderr_tail = err.read()[-2000:]
    if rep.returncode != 0:
        return rep
    for o in manifest.outputs:
        rel = o["path"]
        rep.files.append(compare_file(output_dir / rel, new_dir / rel, o.get("sha256"), rtol=rtol_, atol=atol,
                                      exact=not stochastic, subs=subs, rel=rel))
    write_json(new_dir / "rerun-report.json", rep.to_dict())
    return rep
