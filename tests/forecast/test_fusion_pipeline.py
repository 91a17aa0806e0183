"""``forecast.fusion``: observations from the shipped panel and published figures, rules, refusals, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pakcast.forecast.cli import app
from pakcast.forecast.errors import InputError
from pakcast.forecast.fusion import (
    FusionConfig,
    build_observations,
    choose_reference,
    known_steps,
    model_effects,
    parse_steps,
    resolve_revisions,
)
from typer.testing import CliRunner

HEADER = "source,period_type,period,region,metric,value,url,note\n"


@pytest.fixture(scope="module")
def shipped_table():
    return build_observations(FusionConfig())


def test_shipped_observations(shipped_table):
    t = shipped_table
    f = t.frame
    assert set(f["measure"]) == {"attacks", "killed"}
    assert {"UCDP", "PIPS", "PICSS", "CRSS", "GTI"} <= set(f["source"])
    assert not ({"OFFICIAL", "OTHER"} & set(f["source"]))
    assert (f["first"] <= f["last"]).all()
    assert f["first"].min() >= pd.Period("2007-01", "M")
    # every cover is a set of the seven provinces; national figures cover all of them
    units = set(t.units)
    assert len(units) == 7 and all(set(c) <= units for c in f["cover"])
    nat = f[f["region"] == "Pakistan"]
    assert nat["cover"].map(len).eq(7).all()
    # UCDP enters as province-months, 2007-01..2021-12
    u = f[f["source"] == "UCDP"]
    assert u["period_type"].eq("month").all() and str(u["last"].max()) == "2021-12"
    assert str(f["last"].max()) == "2025-12"  # the 2025 annual totals cover December
    # counted, not silent
    assert t.exclusions["superseded by a revision of the same figure"] > 0
    assert sum(t.exclusions.values()) > 0 and len(t.excluded) > 0
    src, why = choose_reference(f)
    assert src in set(f["source"]) and "overlap" in why


def test_fata_separate_places_mainland_and_tribal_figures():
    t = build_observations(FusionConfig(fata="separate"))
    assert "FATA" in t.units
    covers = set(map(tuple, t.frame["cover"]))
    assert ("FATA",) in covers and ("Khyber Pakhtunkhwa", "FATA") in covers or ("Khyber Pakhtunkhwa",) in covers
    assert not any("use --fata separate" in k for k in t.exclusions)


def _table(rows: list[dict]) -> pd.DataFrame:
    t = pd.DataFrame(rows)
    t["_file"] = "x.csv"
    t["_row"] = range(2, 2 + len(t))
    return t


def test_conflicting_figures_are_refused_naming_both_rows():
    base = dict(source="S", period_type="year", period="2022", region="Pakistan", metric="attacks")
    t = _table([{**base, "value": 376.0, "note": "annual"}, {**base, "value": 380.0, "note": "annual report"}])
    with pytest.raises(InputError, match=r"x.csv row 2 and x.csv row 3, column value"):
        resolve_revisions(t)
    t = _table([{**base, "value": 376.0, "note": "first release"}, {**base, "value": 380.0, "note": "as revised in 2023"}])
    kept, rep, sup = resolve_revisions(t)
    assert kept["value"].tolist() == [380.0] and sup == 1
    t = _table([{**base, "value": 5.0, "note": ""}, {**base, "value": 5.0, "note": ""}])
    kept, rep, sup = resolve_revisions(t)
    assert len(kept) == 1 and rep == 1


@pytest.mark.parametrize("line, match", [
    ("PIPS,year,2020,Atlantis,attacks,10,http://x,\n", r"region"),
    ("PIPS,year,20x0,Pakistan,attacks,10,http://x,\n", r"period"),
    ("PIPS,decade,2020,Pakistan,attacks,10,http://x,\n", r"period_type"),
    ("PIPS,year,2020,Pakistan,atacks,10,http://x,\n", r"row 2, column metric: unknown metric 'atacks'"),
])
def test_bad_reported_rows_are_refused(tmp_path: Path, line: str, match: str):
    p = tmp_path / "rep.csv"
    p.write_text(HEADER + line)
    with pytest.raises(InputError, match=match):
        build_observations(FusionConfig(reported=[str(p)]))


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="--start"):
        FusionConfig(start="2007").validate()
    with pytest.raises(InputError, match="--fata"):
        FusionConfig(fata="both").validate()
    with pytest.raises(InputError, match="--source"):
        FusionConfig(events=[(__file__, "sat")]).validate()


def test_known_date_steps_by_default(shipped_table):
    """Every fit gets the profile's steps that its figures reach; ``--steps`` overrides."""
    assert FusionConfig().effects is None
    assert model_effects(FusionConfig(), shipped_table) == {"2014_12": "2014-12", "2021_08": "2021-08"}
    assert known_steps("2007-01", "2021-10") == {"2014_12": "2014-12"}  # two months after August 2021
    assert known_steps("2007-01", "2021-11") == {"2014_12": "2014-12", "2021_08": "2021-08"}
    assert known_steps("2015-01", "2025-12") == {"2021_08": "2021-08"}  # a step needs months before it
    assert model_effects(FusionConfig(effects={}), shipped_table) == {}
    assert parse_steps("known") is None and parse_steps("none") == {}
    assert parse_steps("2014-12, 2021-08") == {"2014_12": "2014-12", "2021_08": "2021-08"}
    for bad in ("2021", "2021-13", "known,2021-08"):
        with pytest.raises(InputError, match="--steps"):
            parse_steps(bad)
    from pakcast.forecast.fusion_cache import fit_key

    keys = {fit_key(FusionConfig(effects=e), shipped_table) for e in (None, {}, {"2021_08": "2021-08"})}
    assert len(keys) == 3
    assert fit_key(FusionConfig(), shipped_table) == fit_key(
        FusionConfig(effects={"2014_12": "2014-12", "2021_08": "2021-08"}), shipped_table)


def test_cli_fuse_end_to_end(tmp_path: Path):
    rep = tmp_path / "rep.csv"
    rows = [f"PX,month,2021-{m:02d},Pakistan,attacks,{20 + m},http://x,\n" for m in range(1, 13)]
    rows += [f"PX,month,2022-{m:02d},Pakistan,attacks,{40 + m},http://x,\n" for m in range(1, 7)]
    rows += [f"PX,month,2021-{m:02d},Pakistan,killed,{50 + 2 * m},http://x,\n" for m in range(1, 13)]
    rows += ["PX,year,2021,Balochistan,attacks,90,http://x,\n", "PX,year,2021,Pakistan,injured,500,http://x,\n"]
    rep.write_text(HEADER + "".join(rows))
    out = tmp_path / "run"
    js = tmp_path / "fuse.json"
    res = CliRunner().invoke(app, ["fuse", "--reported", str(rep), "--start", "2020-01", "--end", "2022-12",
                                   "--units", "UCDP", "--draws", "150", "--tune", "200", "--chains", "2",
                                   "--out", str(out), "--json", str(js), "--allow-unconverged"])
    assert res.exit_code == 0, res.output
    assert "units: UCDP" in res.output
    for name in ("fused.csv", "sources.csv", "idata.nc", "manifest.json", "fusion.json", "observations.csv",
                 "figures/fused_Pakistan.png", "figures/fused_Balochistan.png"):
        assert (out / name).exists(), name
    d = json.loads(js.read_text())
    assert set(d) >= {"as_of", "units", "sources", "series", "diagnostics"}
    assert d["as_of"] == "2022-06"
    assert d["units"]["source"] == "UCDP"
    assert d["steps"] == {"2021_08": "2021-08"}  # 2014-12 is before --start; 2021-08 has 10 months after it
    assert set(d["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences", "converged"}
    assert {s["source"] for s in d["sources"]} == {"UCDP", "PX"}
    assert set(d["series"][0]) == {"province", "month", "measure", "mean", "q05", "q95"}
    fused = pd.read_csv(out / "fused.csv")
    assert list(fused.columns[:10]) == ["province", "month", "measure", "mean", "median", "q05", "q25", "q75",
                                        "q95", "observed_by"]
    assert "Pakistan" in set(fused["province"]) and fused["month"].max() == "2022-12"
    late = fused[(fused.province == "Pakistan") & (fused.month == "2022-03") & (fused.measure == "attacks")]
    assert late["observed_by"].item() == "PX"
    man = json.loads((out / "manifest.json").read_text())
    assert {o["path"] for o in man["outputs"]} >= {"fused.csv", "sources.csv", "idata.nc", "fusion.json"}
    assert any("units: UCDP" in n for n in man["notes"])
    sc = pd.read_csv(out / "sources.csv")
    assert {"source", "metric", "scale", "scale_ci_low", "scale_ci_high", "dispersion", "n_obs", "first",
            "last"} <= set(sc.columns)


def test_cli_fuse_refuses_bad_file_with_one_line(tmp_path: Path):
    rep = tmp_path / "rep.csv"
    rep.write_text(HEADER + "PIPS,year,2020,Pakistan,atacks,10,http://x,\n")
    res = CliRunner().invoke(app, ["fuse", "--reported", str(rep), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "unknown metric" in res.output and "Traceback" not in res.output


def test_cli_fuse_refuses_bad_steps_with_one_line(tmp_path: Path):
    res = CliRunner().invoke(app, ["fuse", "--steps", "2021", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "--steps '2021'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()  # refused before anything is read or written


def test_reported_file_in_another_encoding(tmp_path: Path):
    """--encoding reads a Latin-1 table of published figures; an unknown encoding is a clear error."""
    rep = tmp_path / "rep.csv"
    rows = [f"PX,month,2021-{m:02d},Pakistan,attacks,{20 + m},http://x,note é\n" for m in range(1, 13)]
    rep.write_bytes((HEADER + "".join(rows)).encode("latin-1"))
    t = build_observations(FusionConfig(reported=[str(rep)], encoding="latin-1", start="2020-01", end="2022-12"))
    assert (t.frame["source"] == "PX").sum() == 12
    with pytest.raises(InputError, match="--encoding 'klingon'"):
        FusionConfig(reported=[str(rep)], encoding="klingon").validate()
