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
