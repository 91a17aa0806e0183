"""The country profile: everything pakcast knows about one country, in one place.

A :class:`CountryProfile` holds the name of the national series, the known intervention dates,
the labels of the shipped sources, the limitation texts shown beside results, and the political
calendar the covariates are built from. Code in :mod:`pakcast.forecast` that needs any of these
imports them from here (``profile()`` returns the active profile, :data:`PAKISTAN` today);
:mod:`pakcast.models` never sees a profile (its constructors take no country defaults), and a
study on a user's CSV never uses one: there the intervention dates must be given
(``--intervention DATE``).

Convention for dates (one for all): an :class:`Intervention` is dated by the **day of the
event** (ISO ``YYYY-MM-DD``). Monthly analyses derive the period from it:

* the break studies (:mod:`pakcast.forecast.studies`, ``pakcast breaks``/``its``) treat the
  **month that contains the event** as the first post-break month
  (:meth:`CountryProfile.intervention_months`: ``2014-12-16`` -> ``2014-12-01``);
* the Bayesian ITS (``pakcast bayes its``) steps at the first month *starting on or after* the
  event day (:meth:`CountryProfile.intervention_days`: ``2014-12-16`` -> from January 2015).

The two mappings differ by one month on purpose: each reproduces its published results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Intervention", "PoliticalCalendar", "CountryProfile", "PAKISTAN", "PROFILES", "profile",
           "NATIONAL"]


@dataclass(frozen=True)
class Intervention:
    """A known intervention: the day of the event, a short label and what happened."""

    date: str
    label: str
    description: str

    @property
    def month(self) -> str:
        """Start of the month that contains the event (``YYYY-MM-01``)."""
        return pd.Timestamp(self.date).to_period("M").to_timestamp().strftime("%Y-%m-%d")


@dataclass(frozen=True)
class PoliticalCalendar:
    """Dated political and security events the covariates are built from (ISO dates).

    ``ceasefires`` and ``military_courts`` are ``(start, end)`` windows; the others are days.
    """

    elections: tuple[str, ...] = ()
    government_changes: tuple[str, ...] = ()
    ceasefires: tuple[tuple[str, str], ...] = ()
    steps: dict[str, str] = field(default_factory=dict)
    windows: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CountryProfile:
    """What pakcast knows about one country (see the module docstring for the date convention).

    Attributes
    ----------
    name : str
        Name of the country and of the national series (the sum of the provinces).
    interventions : tuple of Intervention
        Known intervention dates tested in the studies (day of the event).
    sources : dict
        Labels of the shipped sources as cited in outputs (key -> citation text).
    limitations : tuple of str
        Data limits printed with every briefing.
    event_data_limits : tuple of str
        Limits of the shipped event data, printed by ``pakcast describe``.
    calendar : PoliticalCalendar
        Elections, changes of government, ceasefires and security steps (covariates).
    attribution_break : Intervention or None
        The real break of the attribution study's placebo test (``pakcast attribute``; a user's
        ``--intervention`` replaces it).
    paper : dict
        What the source paper says for each claim the briefing checks (claim id -> quoted text).
    """

    name: str
    interventions: tuple[Intervention, ...]
    sources: dict[str, str]
    limitations: tuple[str, ...]
    event_data_limits: tuple[str, ...]
    calendar: PoliticalCalendar
    attribution_break: Intervention | None = None
    paper: dict[str, str] = field(default_factory=dict)

    @property
    def national(self) -> str:
        """Name of the national series (``unique_id`` of the sum over provinces)."""
        return self.name

    def intervention_days(self) -> tuple[str, ...]:
        """Days of the known interventions (``YYYY-MM-DD``)."""
        return tuple(i.date for i in self.interventions)

    def intervention_months(self) -> tuple[str, ...]:
        """First post-break months of the known interventions (the month containing each event)."""
        return tuple(i.month for i in self.interventions)

    def intervention_labels(self) -> dict[str, str]:
        """Month start -> label used in column names (``"2014-12-01"`` -> ``"2014_12"``)."""
        return {i.month: i.month[:7].replace("-", "_") for i in self.interventions}

    def source(self, key: str) -> str:
        """The citation label of a shipped source (``KeyError`` names the known keys)."""
        try:
            return self.sources[key]
        except KeyError:
            raise KeyError(f"no source {key!r} in the {self.name} profile; known: {sorted(self.sources)}") from None


PAKISTAN = CountryProfile(
    name="Pakistan",
    interventions=(
        Intervention("2014-12-16", "Peshawar school attack",
                     "Army Public School attack in Peshawar; the National Action Plan followed (2014-12-24)"),
        Intervention("2021-08-15", "Taliban takeover of Kabul",
                     "the Afghan Taliban take Kabul; the TTP regroups across the border"),
    ),
    sources={
        "ucdp": "UCDP GED 22.1 (CC BY 4.0), Pakistan extract via HDX",
        "ucdp_version": "UCDP GED 22.1",
        "ucdp_tables": "shipped UCDP GED 22.1 tables",
        "ucdp_panel": "UCDP GED panel",
        "attribution": "UCDP GED 22.1 (Pakistan extract via HDX), militant scope; covariates: shared/data/covariates",
        "reported": "published aggregates: PICSS, PIPS, CRSS, GTI and others (URLs in data)",
        "ucdp_citation": "Sundberg & Melander (2013), J. Peace Research 50(4):523-532; Davies, Pettersson & Öberg "
                         "(2022), J. Peace Research 59(4):593-610",
        "population": "Population: Pakistan Bureau of Statistics censuses 1998, 2017, 2023",
    },
    limitations=(
        "UCDP GED records organised violence: events with at least one death in a conflict, dyad or actor that "
        "passed 25 deaths in a calendar year. Non-lethal attacks and attacks by smaller groups are not in it.",
        "UCDP GED has no injured counts (the 'injured' measure is empty for this source) and no attack type.",
        "The event data end in December 2021 (GED 22.1). Anything later rests on the published aggregates.",
        "Published aggregates (PICSS, PIPS, CRSS, GTI, SATP, official) define attacks and deaths their own way "
        "(some include militants killed in operations): they are shown side by side and never pooled.",
        "FATA was merged into Khyber Pakhtunkhwa in May 2018; UCDP keeps FATA separate through 2021. The panel "
        "follows the merge option recorded in the manifest.",
        "Events dated only to a month or a year cannot be placed in finer periods; the panel's exclusions are "
        "listed below when the run records them.",
        "UCDP revises the GED retroactively: counts from other GED versions differ for the same years.",
    ),
    event_data_limits=(
        "UCDP GED counts organised, lethal violence (>= 1 death, conflicts/actors above 25 deaths a year); "
        "it is not a terrorism database: no non-lethal attacks, no attack type, no injured counts.",
        "The shipped extract is GED 22.1 (HDX): coverage ends 2021-12-31, only 4.5 months after the August-2021 "
        "break; published aggregates in reported_aggregates.csv extend past 2021 but never pool with UCDP.",
        "FATA is coded apart through 2021 (merged into Khyber Pakhtunkhwa by default, --fata separate keeps it).",
        "Coverage before 2002 is thin (284 events 1989-2001). The GED is revised retroactively between versions.",
    ),
    calendar=PoliticalCalendar(
        elections=("2002-10-10", "2008-02-18", "2013-05-11", "2018-07-25", "2024-02-08"),
        government_changes=("2008-08-18", "2022-04-10"),
        ceasefires=(
            ("2006-09-05", "2007-07-11"),
            ("2009-02-16", "2009-04-26"),
            ("2021-11-09", "2021-12-09"),
            ("2022-06-02", "2022-11-28"),
        ),
        steps={"fata_merger": "2018-05-31", "counterterrorism_regime": "2014-12-24", "kabul_takeover": "2021-08-15"},
        windows={"military_courts": ("2015-01-07", "2019-01-06")},
    ),
    attribution_break=Intervention("2014-06-15", "Operation Zarb-e-Azb",
                                   "the army's offensive in North Waziristan begins (timeline.csv, verified)"),
    paper={
        "rise_after_2021_08": ("+51% attacks in the 12 months after 15 August 2021 against the 12 months before; "
                               "250 attacks, 433 killed and 719 injured \"in under a year\""),
        "peak_2012_13": "deaths peaked in 2012-13",
        "fall_after_2014": "violence fell after 2014 (Zarb-e-Azb, National Action Plan)",
    },
)

#: the known profiles by key
PROFILES: dict[str, CountryProfile] = {"pakistan": PAKISTAN}

#: name of the national series of the active profile
NATIONAL = PAKISTAN.national


def profile(name: str = "pakistan") -> CountryProfile:
    """The country profile ``name`` (default: Pakistan, the only one shipped)."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise KeyError(f"no country profile {name!r}; known: {sorted(PROFILES)}") from None
