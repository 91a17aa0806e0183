"""A monthly series with a hole is refused by `breaks` and `its`, naming the missing months (issue 15, defect 11)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from pakcast.forecast.cli import app
from pakcast.forecast.studies import check_contiguous_months

runner = CliRunner()


def _series_with_hole(path):
    months = pd.date_range("2013-01-01", "2020-12-01", freq="MS")
    hole = (months >= "2016-03-01") & (months <= "2017-10-01")  # 20 months
    df = pd.DataFrame({"month": months[~hole].strftime("%Y-%m-%d"), "attacks": range(int((~hole).sum()))})
    df.to_csv(path, index=False)
    return path


@pytest.mark.case("series-month-gap", fault="a monthly series with a 20-month hole", how="`pakcast breaks --csv`, "
                  "`pakcast its --csv`",
                  outcome="**was a bug** (treated as contiguous; `its` passed without a warning); now refused naming "
                  "the months, \"no rows for 2016-03 .. 2017-10 (20 months)\"; `--start/--end` on one contiguous "
                  "stretch is accepted")
def test_monthly_series_with_a_hole_is_refused_naming_the_months(tmp_path):
    f = _series_with_hole(tmp_path / "s.csv")
    for args in (["breaks", "--json", str(tmp_path / "b.json"), "--csv", str(f), "--column", "attacks",
                  "--date-col", "month"],
                 ["its", "--json", str(tmp_path / "i.json"), "--csv", str(f), "--outcome", "attacks",
                  "--date-col", "month", "--intervention", "2018-06-01"]):
        r = runner.invoke(app, args)
        text = " ".join(r.output.replace("│", " ").split())
        assert r.exit_code != 0 and "2016-03 .. 2017-10 (20 months)" in text, r.output
        assert not (tmp_path / "b.json").exists() and not (tmp_path / "i.json").exists()
    t = pd.Series(pd.to_datetime(pd.read_csv(f)["month"]))
    with pytest.raises(ValueError, match=r"no rows for 2016-03 \.\. 2017-10 \(20 months\)"):
        check_contiguous_months(t, "s.csv")
    check_contiguous_months(t[t >= "2017-11-01"].reset_index(drop=True), "s.csv")  # one contiguous stretch
    check_contiguous_months(pd.Series(pd.date_range("2010-01-01", periods=10, freq="QS")), "quarterly")
