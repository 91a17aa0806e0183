"""The country profile: one place for the national name, intervention dates, labels and calendar."""

from __future__ import annotations

import pytest

from pakcast.forecast.country import PAKISTAN, CountryProfile, profile


def test_profile_is_pakistan_and_derives_both_date_mappings():
    p = profile()
    assert isinstance(p, CountryProfile) and p is PAKISTAN and p.national == "Pakistan"
    assert p.intervention_days() == ("2014-12-16", "2021-08-15")
    assert p.intervention_months() == ("2014-12-01", "2021-08-01")  # the month containing each event
    assert p.intervention_labels() == {"2014-12-01": "2014_12", "2021-08-01": "2021_08"}


def test_unknown_profile_and_source_name_the_known_keys():
    with pytest.raises(KeyError, match="pakistan"):
        profile("atlantis")
    with pytest.raises(KeyError, match="ucdp"):
        PAKISTAN.source("nope")


def test_every_user_of_the_country_facts_reads_the_profile():
    from pakcast.forecast import covariates, forecasters, provinces, studies
    from pakcast.forecast.commands import bayes
    from pakcast.forecast.report import build

    assert provinces.NATIONAL == forecasters.NATIONAL == studies.NATIONAL == PAKISTAN.national
    assert studies.STUDY_DATES == PAKISTAN.intervention_months()
    assert bayes.DEFAULT_BREAKS.split(",") == list(PAKISTAN.intervention_days())
    assert covariates._ELECTIONS == PAKISTAN.calendar.elections
    assert build.LIMITATIONS == list(PAKISTAN.limitations) and build.NATIONAL == PAKISTAN.national


def test_report_and_attribution_take_the_national_name_and_the_placebo_break_from_the_profile():
    import inspect

    from pakcast.forecast import attribution_study
    from pakcast.forecast.report import claims, judgements

    for mod in (attribution_study, claims, judgements):
        src = inspect.getsource(mod)
        assert '"Pakistan"' not in src and "2014-06-15" not in src, mod.__name__
    assert PAKISTAN.attribution_break is not None and PAKISTAN.attribution_break.date == "2014-06-15"
    assert inspect.signature(attribution_study.run_attribution).parameters["break_date"].default is None
