"""UCDP GED and Candidate events from the UCDP API, written as the official GED CSV.

The API (documentation: https://ucdp.uu.se/apidocs/) serves both datasets from one versioned
endpoint, ``GET https://ucdpapi.pcr.uu.se/api/gedevents/<version>``:

* yearly GED releases have versions ``YY.1`` (``25.1`` covers 1989 to the end of 2024);
* monthly Candidate releases have versions ``YY.0.M`` (``25.0.9``: the candidate events of
  September 2025), the same 49 columns as the GED.

Query parameters: ``pagesize`` (at most 1000) and ``page`` (0-based), ``Country`` (Gleditsch-Ward
code; 770 = Pakistan), ``StartDate``/``EndDate`` (``YYYY-MM-DD``). Since 2025 every request needs
an access token (free, from the API maintainer) in the ``x-ucdp-access-token`` header; the quota
is 5,000 requests a day. The response is JSON with ``TotalCount``, ``TotalPages``,
``PreviousPageUrl``, ``NextPageUrl`` (empty on the last page) and ``Result`` (the events, one
object each, keys as the GED CSV columns; dates as ``2010-05-13T00:00:00``).

:func:`fetch_ucdp` pages through the request, checks the format, and writes the events in the
column order of the official GED CSV (``GEDEvent_v25_1.csv``), which
:func:`pakcast.forecast.sources.ucdp.read_ucdp` reads (``pakcast ingest --source ucdp``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any, Callable

from pakcast.forecast.errors import InputError
from pakcast.forecast.fetch.http import (AuthError, FetchResult, FormatError, HttpClient, NotFoundError, Page, download_pages,
                                         write_output)
from pakcast.forecast.sources.ucdp import PAKISTAN_GWNO, REQUIRED

DEFAULT_API_URL = "https://ucdpapi.pcr.uu.se/api"
TOKEN_HEADER = "x-ucdp-access-token"
TOKEN_ENV = "UCDP_TOKEN"
API_URL_ENV = "PAKCAST_UCDP_API_URL"
MAX_PAGESIZE = 1000
DATASETS = ("ged", "candidate")
_VERSION = {"ged": re.compile(r"^\d{2}\.1$"), "candidate": re.compile(r"^\d{2}\.0\.\d{1,2}$")}
_VERSION_EXAMPLE = {"ged": "25.1", "candidate": "25.0.9"}
RESPONSE_KEYS = ("TotalCount", "TotalPages", "NextPageUrl", "Result")

#: the 49 columns of the official GED CSV (GED 22.1-25.1 and Candidate files), in file order
GED_COLUMNS = [
    "id", "relid", "year", "active_year", "code_status", "type_of_violence", "conflict_dset_id", "conflict_new_id",
    "conflict_name", "dyad_dset_id", "dyad_new_id", "dyad_name", "side_a_dset_id", "side_a_new_id", "side_a",
    "side_b_dset_id", "side_b_new_id", "side_b", "number_of_sources", "source_article", "source_office",
    "source_date", "source_headline", "source_original", "where_prec", "where_coordinates", "where_description",
    "adm_1", "adm_2", "latitude", "longitude", "geom_wkt", "priogrid_gid", "country", "country_id", "region",
    "event_clarity", "date_prec", "date_start", "date_end", "deaths_a", "deaths_b", "deaths_civilians",
    "deaths_unknown", "best", "high", "low", "gwnoa", "gwnob",
]
_DATE_COLUMNS = ("date_start", "date_end", "source_date")
_ISO_DT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?$")


def check_version(dataset: str, version: str) -> str:
    """``version`` if it has the form of a ``dataset`` release, else an :class:`InputError`."""
    if dataset not in DATASETS:
        raise InputError(f"--dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    v = str(version).strip()
    if not _VERSION[dataset].match(v):
        other = [d for d in DATASETS if d != dataset and _VERSION[d].match(v)]
        hint = f"; {v} is a {other[0]} version (use --dataset {other[0]})" if other else ""
        raise InputError(f"--version {v!r}: a UCDP {dataset} version looks like {_VERSION_EXAMPLE[dataset]}{hint}")
    return v


def release_end(dataset: str, version: str) -> str:
    """Last day a release covers: GED ``25.1`` -> 2024-12-31; Candidate ``25.0.9`` -> 2025-09-30."""
    import calendar

    v = check_version(dataset, version)
    year = 2000 + int(v.split(".")[0])
    if dataset == "ged":
        return f"{year - 1}-12-31"
    month = int(v.split(".")[2])
    if not 1 <= month <= 12:
        raise InputError(f"--version {v!r}: the month of a candidate release is 1 to 12")
    return f"{year}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def _cell(col: str, v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "True" if v else "False"
    s = str(v)
    if col in _DATE_COLUMNS:
        m = _ISO_DT.match(s)
        if m:  # the official CSV writes 2010-05-13 00:00:00.000
            return f"{m.group(1)} {m.group(2)}.000"
    return s


def ged_csv(records: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The official GED CSV text for API records, and the extra (undocumented) keys appended."""
    extra = sorted({k for r in records for k in r} - set(GED_COLUMNS))
    cols = GED_COLUMNS + extra
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in records:
        w.writerow([_cell(c, r.get(c)) for c in cols])
    return buf.getvalue(), extra


def _check_page(obj: Any, where: str, page: int = 0) -> Page:
    if not isinstance(obj, dict) or not all(k in obj for k in RESPONSE_KEYS) or not isinstance(obj["Result"], list):
        got = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise FormatError(f"UCDP {where}: unexpected response format: expected a JSON object with "
                          f"{', '.join(RESPONSE_KEYS)} (https://ucdp.uu.se/apidocs/), got {got}")
    for i, rec in enumerate(obj["Result"]):
        missing = [c for c in REQUIRED if not isinstance(rec, dict) or c not in rec]
        if missing:
            raise FormatError(f"UCDP {where}: event {i} of the page lacks the GED field(s) {missing} "
                              "(the response format changed?)")
    try:
        total_pages = int(obj["TotalPages"])
        total_count = int(obj["TotalCount"])
    except (TypeError, ValueError):
        raise FormatError(f"UCDP {where}: TotalPages/TotalCount are not integers "
                          f"({obj.get('TotalPages')!r}, {obj.get('TotalCount')!r})") from None
    # the last page: no NextPageUrl (as documented), and never past TotalPages or an empty page
    last = not obj.get("NextPageUrl") or page + 1 >= total_pages or not obj["Result"]
    return Page(records=obj["Result"], last=last, total_pages=total_pages, total_count=total_count)


def fetch_ucdp(out: str | Path, *, dataset: str, version: str, since: str | None = None, until: str | None = None,
               token: str | None = None, api_url: str | None = None, country: int = PAKISTAN_GWNO,
               pagesize: int = MAX_PAGESIZE, client: HttpClient | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> FetchResult:
    """Download the ``dataset`` release ``version`` for ``country`` into ``out`` (official GED CSV).

    Parameters
    ----------
    out : the CSV to write (atomically; ``<stem>.manifest.json`` beside it).
    dataset : ``"ged"`` (yearly, ``YY.1``) or ``"candidate"`` (monthly, ``YY.0.M``).
    version : the release.
    since, until : ``StartDate``/``EndDate`` filters (``YYYY-MM-DD``).
    token : the API token; default ``$UCDP_TOKEN``.
    api_url : the API root (default ``$PAKCAST_UCDP_API_URL`` or https://ucdpapi.pcr.uu.se/api).
    country : Gleditsch-Ward code (770 = Pakistan).
    client : an :class:`HttpClient` (its retries, cache and timeouts); default one with a cache.

    Raises
    ------
    InputError : a malformed version or date; an empty result.
    AuthError, NotFoundError, FormatError, UnreachableError, FetchError : see :mod:`forecast.fetch.http`.
    """
    version = check_version(dataset, version)
    filters: dict[str, Any] = {"Country": int(country)}
    for name, val in (("StartDate", since), ("EndDate", until)):
        if val:
            if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(val)):
                raise InputError(f"--{'since' if name == 'StartDate' else 'until'} {val!r}: expected YYYY-MM-DD")
            filters[name] = str(val)
    if not 1 <= int(pagesize) <= MAX_PAGESIZE:
        raise InputError(f"pagesize {pagesize}: the UCDP API serves 1 to {MAX_PAGESIZE} events a page")
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise InputError(f"no UCDP API token: pass --token or set {TOKEN_ENV} (tokens are free from the API "
                         "maintainer, see https://ucdp.uu.se/apidocs/)")
    root = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
    url = f"{root}/gedevents/{version}"
    if client is None:
        from pakcast.forecast.fetch.http import default_cache_dir

        client = HttpClient("UCDP", cache_dir=default_cache_dir())
    client.add_secret(token)
    headers = {TOKEN_HEADER: token}

    def one(page: int) -> Page:
        params = {"pagesize": int(pagesize), "page": page, **filters}
        try:
            obj, _ = client.get_json(url, params=params, headers=headers, what=f"{dataset} {version} page {page}")
        except AuthError as exc:
            raise AuthError(f"{exc}; check --token or ${TOKEN_ENV}") from None
        except NotFoundError as exc:
            raise NotFoundError(f"UCDP has no {dataset} version {version} at {url} (HTTP 404): check the version "
                                "at https://ucdp.uu.se/apidocs/ (GED YY.1, Candidate YY.0.M)") from exc
        return _check_page(obj, f"{dataset} {version} page {page}", page)

    request = {"url": url, "pagesize": int(pagesize), **filters}
    dl = download_pages(one, out=out, request=request, first_page=0, progress=progress)
    if not dl.records:
        span = " ".join(f"{k}={v}" for k, v in filters.items())
        raise InputError(f"UCDP {dataset} {version} returned no events for {span}: nothing written to {out} "
                         f"(is the release published and does it cover these dates?)")
    notes = []
    if dl.total_count is not None and dl.total_count != len(dl.records):
        raise FormatError(f"UCDP {dataset} {version}: TotalCount says {dl.total_count} events but the pages held "
                          f"{len(dl.records)}; nothing written to {out} (run the command again)")
    text, extra = ged_csv(dl.records)
    if extra:
        notes.append(f"fields beyond the documented GED columns kept at the end: {extra}")
    return write_output(out, text, service="UCDP", dataset=dataset, url=url,
                        params={"pagesize": int(pagesize), **filters}, records=len(dl.records), download=dl,
                        client=client, options={"version": version}, notes=notes)
