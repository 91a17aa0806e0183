"""The typed result of a run: what a job returns, writes once as ``results.json`` and the briefing renders.

Two jobs produce run results:

* the quarterly forecast (:func:`pakcast.forecast.quarterly.run`) -> :class:`QuarterlyResult`;
* an interrupted-time-series study (:func:`pakcast.forecast.studies.run_its_study`, ``pakcast its``)
  -> :class:`ITSStudyResult`.

Each result names the sources it rests on (:class:`SourceCredit`: the file, its sha256 and the
label the user gave), so a briefing credits exactly what the run used. :func:`write_result`
writes a result as ``results.json`` (atomically, with its ``kind``); :func:`read_result` reads
one back (the only reader: :func:`pakcast.forecast.report.build_report` renders from it).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from pakcast.forecast.errors import InputError
from pakcast.forecast.io import read_json_object, sha256_file, write_json

__all__ = [
    "RESULT_FILE",
    "ITSStudyResult",
    "QuarterlyResult",
    "ResultError",
    "RunResult",
    "SourceCredit",
    "read_result",
    "write_result",
]

RESULT_FILE = "results.json"


class ResultError(InputError):
    """A ``results.json`` that is present but does not meet its contract."""


@dataclass
class SourceCredit:
    """One source a run used, as the briefing credits it.

    ``name`` is the label shown to the reader (for a user's file: the ``--source-label`` given,
    else the file name); ``file`` and ``sha256`` identify the exact file read.
    """

    name: str
    file: str | None = None
    sha256: str | None = None
    rows: int | None = None
    coverage: str | None = None
    licence: str | None = None
    citation: str | None = None
    role: str | None = None

    @classmethod
    def user_file(cls, path: str | Path, label: str | None = None, rows: int | None = None,
                  coverage: str | None = None, role: str = "user data") -> SourceCredit:
        """Credit a user's file: its name, sha256 and the label the user gave."""
        p = Path(path)
        return cls(name=label or p.name, file=p.name, sha256=sha256_file(p), rows=rows, coverage=coverage,
                   licence="the user's own data", citation=label, role=role)

    @property
    def line(self) -> str:
        """The one-line credit printed under figures and tables (``Source: ...``)."""
        if self.file and self.name != self.file:
            return f"{self.name}, file {self.file}"
        return self.name


@dataclass
class _Result:
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``kind`` first."""
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path = RESULT_FILE) -> _Result:
        names = {f.name for f in fields(cls)}
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        absent = [k for k in required if k not in data]
        if absent:
            raise ResultError(f"{path}: missing key(s) {absent} for a {cls.kind} result")
        kwargs = {k: v for k, v in data.items() if k in names}
        if "sources" in kwargs:
            kwargs["sources"] = [s if isinstance(s, SourceCredit) else SourceCredit(**s) for s in kwargs["sources"]]
        return cls(**kwargs)

    def source_line(self) -> str:
        """``Source: ...`` for figures and tables: the sources this run used, nothing else."""
        sources: list[SourceCredit] = getattr(self, "sources", [])
        return "Source: " + "; ".join(s.line for s in sources) if sources else ""


@dataclass
class QuarterlyResult(_Result):
    """The quarterly forecast run (``pakcast quarterly``); keys as in ``docs/ARCHITECTURE.md``.

    ``data`` describes the panel used (source, file, coverage, exclusions); ``backtest`` holds the
    ``summary``, ``per_horizon``, ``pit_histograms``, ``diebold_mariano``, ``goal_check`` and
    ``ensemble_weights_by_origin`` records; ``earlier_vintages`` the ``scores`` of earlier
    forecasts against outcomes; ``not_produced`` maps a file or step to the reason it is absent.
    ``fusion`` (a fused run only, :mod:`pakcast.forecast.fused_quarterly`): ``units``, ``as_of``,
    ``run_date``, ``newest_observation``, ``quarters``, ``early_warning``, ``fit``, ``breaks``, ``claims``.
    """

    kind: ClassVar[str] = "quarterly"
    as_of: str
    forecast_origin: str
    forecast_quarters: list[str]
    published_model: str
    data: dict[str, Any]
    models: dict[str, Any] = field(default_factory=dict)
    backtest: dict[str, Any] = field(default_factory=dict)
    forecast_only_models: dict[str, Any] = field(default_factory=dict)
    vintage: dict[str, Any] = field(default_factory=dict)
    earlier_vintages: dict[str, Any] = field(default_factory=dict)
    not_produced: dict[str, str] = field(default_factory=dict)
    timings_seconds: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: list[SourceCredit] = field(default_factory=list)
    measure_labels: dict[str, str] = field(default_factory=dict)
    refresh: dict[str, Any] | None = None
    fusion: dict[str, Any] | None = None
    run_id: str | None = None
    created: str | None = None

    def summary(self) -> str:
        """What ``pakcast quarterly`` prints: the run, where the forecast is archived, what was not
        produced (one line each, in words) and the sources used."""
        from collections import Counter

        from pakcast.forecast.report.format import readable

        v = self.vintage or {}
        chosen = Counter(str(r.get("model")) for r in (self.models or {}).get("published_selection") or [])
        n = sum(chosen.values())
        published = (", ".join(f"{readable(m)} for {k} of {n} series" for m, k in chosen.most_common()) if chosen
                     else readable(self.published_model))
        lines = [f"run {self.run_id}: data to {self.as_of}, forecast {', '.join(self.forecast_quarters)} "
                 f"(published: {published})"]
        if self.fusion:
            f = self.fusion
            age = f.get("newest_observation", {})
            lines.append(f"units: {'; '.join(f['units']['measures'].values())} (reference {f['units']['source']}: "
                         f"{f['units']['reason']}); newest observation {age.get('month')}, "
                         f"{age.get('age_months')} months before the run date {f.get('run_date')}")
        if v.get("vintage_id"):
            from pakcast.forecast.paths import default_store_path

            default = v.get("store") and Path(str(v["store"])).resolve() == default_store_path().resolve()
            lines.append(f"archived as vintage {v['vintage_id']} in the store {v.get('store')}"
                         + (" (the default store: --store PATH or $PAKCAST_STORE chooses another, --store none "
                            "skips archiving)" if default else ""))
        elif v.get("reason"):
            lines.append(f"not archived: {v['reason']}")
        if self.not_produced:
            from pakcast.forecast.report.format import not_produced_label

            lines.append("not produced:")
            lines += [f"  - {not_produced_label(k)}: {why}" for k, why in self.not_produced.items()]
        caught = [n for n in self.notes if n.startswith("warning during the run")]
        if caught:
            lines.append(f"{len(caught)} warning{'s' if len(caught) > 1 else ''} from the numerical libraries during "
                         "the run, recorded in results.json (notes)")
        if self.sources:
            lines.append("sources: " + "; ".join(s.line for s in self.sources))
        return "\n".join(lines)

    @property
    def uses_shipped_data(self) -> bool:
        """True when the run used the shipped panel (not a user's ``--input`` file)."""
        return not str(self.data.get("source", "")).startswith("user panel")


@dataclass
class ITSStudyResult(_Result):
    """An interrupted-time-series study (``pakcast its``), in the units of the user's series.

    ``interventions``, ``model``, ``params`` and ``checks`` are :meth:`ITSResults.to_dict`'s;
    ``pointwise`` has one record per intervention and observation (observed, counterfactual with
    its predictive interval, pointwise and cumulative effect with intervals: CausalImpact's three
    panels); ``impact`` one summary per intervention (average and cumulative effect, relative
    effect, intervals); ``narrative`` the plain-language summary built from ``impact``;
    ``data_notes`` what the reader must know about the series (gaps, exclusions).
    """

    kind: ClassVar[str] = "its"
    series: str
    outcome: str
    outcome_label: str
    time_unit: str
    n_obs: int
    start: Any
    end: Any
    interventions: list[dict[str, Any]]
    model: dict[str, Any]
    params: list[dict[str, Any]]
    checks: dict[str, Any]
    pointwise: list[dict[str, Any]]
    impact: list[dict[str, Any]]
    narrative: list[str]
    data_notes: list[str] = field(default_factory=list)
    sources: list[SourceCredit] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    created: str | None = None

    def summary(self) -> str:
        """The narrative summary as plain text (what ``pakcast its`` prints)."""
        return "\n\n".join(self.narrative)


RunResult = QuarterlyResult | ITSStudyResult
_KINDS: dict[str, type[_Result]] = {"quarterly": QuarterlyResult, "its": ITSStudyResult}


def write_result(result: RunResult, directory: str | Path, name: str = RESULT_FILE) -> Path:
    """Write ``result`` as ``directory/results.json`` (atomically); returns the path."""
    return write_json(Path(directory) / name, result.to_dict())


def read_result(path: str | Path) -> RunResult:
    """Read a run result back from ``results.json`` (or the directory that holds it).

    Raises
    ------
    FileNotFoundError
        If there is no ``results.json``.
    ResultError
        If the file is not valid JSON, has an unknown ``kind`` or lacks a required key.
    """
    p = Path(path)
    if not p.exists() and p.suffix != ".json":
        raise FileNotFoundError(f"run directory {p} does not exist")
    if p.is_dir():
        p = p / RESULT_FILE
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: run `pakcast quarterly --out DIR` or `pakcast its ... --out DIR` first")
    data = read_json_object(p, ResultError)
    kind = data.get("kind", "quarterly")
    if kind not in _KINDS:
        raise ResultError(f"{p}: key 'kind': expected one of {sorted(_KINDS)}, found {kind!r}")
    return _KINDS[kind].from_dict(data, p)  # type: ignore[return-value]
