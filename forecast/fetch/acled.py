"""ACLED events from the ACLED API, written in the ACLED export columns.

Access (documentation: https://acleddata.com/api-documentation/getting-started): a myACLED account
(email and password) obtains an OAuth token with the password grant,

``POST https://acleddata.com/oauth/token`` with the form fields ``username`` (the email),
``password``, ``grant_type=password`` and ``client_id=acled``; the answer holds ``access_token``
(valid 24 hours), ``token_type`` (``Bearer``), ``expires_in`` and ``refresh_token``.

Data: ``GET https://acleddata.com/api/acled/read?_format=json`` with ``Authorization: Bearer
<token>`` and the filters ``country`` (``Pakistan``), ``event_date`` (``2025-01-01|2025-09-30``)
with ``event_date_where=BETWEEN``, and paging by ``limit`` (rows a page, 5,000 by default) and
``page`` (from 1). The JSON answer holds ``status``, ``success``, ``count`` (rows in this page) and
``data`` (the rows, values as strings, keys as the export columns). The download stops at an empty
page or at a page shorter than an earlier one (a server may cap the rows a page below ``limit``).

The older access (retired by ACLED in 2025, still served by some mirrors) put an access ``key`` and
the account ``email`` in the query of ``https://api.acleddata.com/acled/read``; :func:`fetch_acled`
uses it when a key is given instead of a password. Either way the credentials never reach the
manifest, the cache key or a message.

Terms: ACLED data are not openly licensed; a user downloads them under their own account's terms.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from pakcast.forecast.errors import InputError
from pakcast.forecast.fetch.http import (AuthError, FetchResult, FormatError, HttpClient, Page, download_pages,
                                         write_output)
from pakcast.forecast.sources.acled import COUNTRY, REQUIRED

DEFAULT_API_URL = "https://acleddata.com"
LEGACY_API_URL = "https://api.acleddata.com"
API_URL_ENV = "PAKCAST_ACLED_API_URL"
EMAIL_ENV, PASSWORD_ENV, KEY_ENV = "ACLED_EMAIL", "ACLED_PASSWORD", "ACLED_KEY"
CLIENT_ID = "acled"
DEFAULT_LIMIT = 5000
#: ACLED export columns, in the order of an ACLED export file
ACLED_COLUMNS = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude",
    "geo_precision", "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
]


def acled_csv(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """CSV text in the export column order (columns the API did not send are left out; extras at the end)."""
    present = {k for r in rows for k in r}
    cols = [c for c in ACLED_COLUMNS if c in present]
    extra = sorted(present - set(ACLED_COLUMNS))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols + extra)
    for r in rows:
        w.writerow(["" if r.get(c) is None else str(r.get(c)) for c in cols + extra])
    return buf.getvalue(), extra


def _date(name: str, v: str | None) -> str | None:
    if v is None:
        return None
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(v)):
        raise InputError(f"--{name} {v!r}: expected YYYY-MM-DD")
    return str(v)


def oauth_token(client: HttpClient, root: str, email: str, password: str) -> str:
    """An access token from ``<root>/oauth/token`` (password grant); :class:`AuthError` if refused."""
    url = f"{root}/oauth/token"
    resp = client.request("POST", url, data={"username": email, "password": password, "grant_type": "password",
                                             "client_id": CLIENT_ID}, what="token request")
    if resp.status in (400, 401, 403):
        try:
            body = json.loads(resp.body)
            why = f"{body.get('error', '')}: {body.get('error_description', body.get('message', ''))}".strip(": ")
        except (ValueError, AttributeError):
            why = " ".join(resp.text().split())[:160]
        raise AuthError(client.scrub(f"ACLED refused the credentials at {url} (HTTP {resp.status}"
                                     f"{', ' + why if why else ''}); check --email/--password or "
                                     f"${EMAIL_ENV}/${PASSWORD_ENV}, and that the account has API access"))
    client.raise_for_status(resp, url, None, "token request")

    try:
        tok = json.loads(resp.body)["access_token"]
    except (ValueError, KeyError, TypeError):
        raise FormatError(f"ACLED token answer from {url} has no access_token (the OAuth flow changed?)") from None
    if not isinstance(tok, str) or not tok:
        raise FormatError(f"ACLED token answer from {url}: access_token is empty")
    client.add_secret(tok)
    return tok


def _check_page(obj: Any, where: str, longest: int | None) -> Page:
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        got = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise FormatError(f"ACLED {where}: unexpected response format: expected a JSON object with a 'data' list "
                          f"(https://acleddata.com/api-documentation/getting-started), got {got}")
    if obj.get("success") is False:
        msg = obj.get("error") or obj.get("messages")
        raise FormatError(f"ACLED {where}: the API answered success=false: {str(msg)[:200]}")
    for i, row in enumerate(obj["data"]):
        missing = [c for c in REQUIRED if not isinstance(row, dict) or c not in row]
        if missing:
            raise FormatError(f"ACLED {where}: row {i} lacks the column(s) {missing} (the response format changed?)")
    # the last page is empty, or shorter than an earlier page: a server may serve fewer rows a page than
    # ``limit`` asks, so a short first page alone proves nothing (one more request settles it)
    n = len(obj["data"])
    return Page(records=obj["data"], last=n == 0 or (longest is not None and n < longest))


def fetch_acled(out: str | Path, *, since: str | None = None, until: str | None = None, email: str | None = None,
                password: str | None = None, key: str | None = None, api_url: str | None = None,
                country: str = COUNTRY, limit: int = DEFAULT_LIMIT, client: HttpClient | None = None,
                progress: Callable[[int, int | None], None] | None = None) -> FetchResult:
    """Download ACLED events of ``country`` into ``out`` (ACLED export columns).

    Parameters
    ----------
    out : the CSV to write (atomically; ``<stem>.manifest.json`` beside it).
    since, until : ``event_date`` range (``YYYY-MM-DD``; ``until`` defaults to today when ``since`` is given).
    email, password : myACLED account (default ``$ACLED_EMAIL``, ``$ACLED_PASSWORD``): OAuth token access.
    key : an access key (default ``$ACLED_KEY``) for the older key + email access, used when no password is given.
    api_url : the API root (default ``$PAKCAST_ACLED_API_URL``, else https://acleddata.com, or
        https://api.acleddata.com for key access).
    limit : rows a page.
    """
    since, until = _date("since", since), _date("until", until)
    email = email or os.environ.get(EMAIL_ENV) or os.environ.get("ACLED_USERNAME")
    password = password or os.environ.get(PASSWORD_ENV)
    key = key or os.environ.get(KEY_ENV)
    if not email or not (password or key):
        raise InputError(f"no ACLED credentials: pass --email and --password (or set ${EMAIL_ENV} and "
                         f"${PASSWORD_ENV}); the older access takes --email and --key (${KEY_ENV})")
    legacy = not password
    root = (api_url or os.environ.get(API_URL_ENV) or (LEGACY_API_URL if legacy else DEFAULT_API_URL)).rstrip("/")
    if client is None:
        from pakcast.forecast.fetch.http import default_cache_dir

        client = HttpClient("ACLED", cache_dir=default_cache_dir(), cache_ttl=24 * 3600)
    for s in (email, password, key):
        client.add_secret(s)
    if not 1 <= int(limit) <= 100_000:
        raise InputError(f"limit {limit}: expected 1 to 100000 rows a page")
    filters: dict[str, Any] = {"country": country}
    if since or until:
        a = since or "1997-01-01"
        b = until or _dt.date.today().isoformat()
        filters.update({"event_date": f"{a}|{b}", "event_date_where": "BETWEEN"})
    if legacy:
        url, headers = f"{root}/acled/read", {}
        auth_params = {"key": key, "email": email}
    else:
        url = f"{root}/api/acled/read"
        headers = {"Authorization": f"Bearer {oauth_token(client, root, email, password)}"}
        auth_params = {"_format": "json"}

    longest: list[int] = []

    def one(page: int) -> Page:
        params = {**auth_params, **filters, "limit": int(limit), "page": page}
        try:
            obj, _ = client.get_json(url, params=params, headers=headers, what=f"events page {page}")
        except AuthError as exc:
            hint = (f"check --email/--key (${EMAIL_ENV}/${KEY_ENV})" if legacy else
                    "the account may lack API access, or the token expired")
            raise AuthError(f"{exc}; {hint}") from None
        res = _check_page(obj, f"events page {page}", max(longest) if longest else None)
        longest.append(len(res.records))
        return res

    request = {"url": url, **{k: v for k, v in auth_params.items() if k not in ("key", "email")}, **filters,
               "limit": int(limit)}
    dl = download_pages(one, out=out, request=request, first_page=1, progress=progress)
    if not dl.records:
        span = " ".join(f"{k}={v}" for k, v in filters.items())
        raise InputError(f"ACLED returned no events for {span}: nothing written to {out}")
    ids = [r.get("event_id_cnty") for r in dl.records]
    if len(set(ids)) != len(ids):
        raise FormatError(f"ACLED returned {len(ids) - len(set(ids))} event(s) twice across pages (the data "
                          f"changed during the download?); nothing written to {out}: run the command again")
    text, extra = acled_csv(dl.records)
    notes = [f"columns beyond the documented export columns kept at the end: {extra}"] if extra else []
    return write_output(out, text, service="ACLED", dataset="events", url=url,
                        params={**auth_params, **filters, "limit": int(limit)}, records=len(dl.records),
                        download=dl, client=client, options={"access": "key" if legacy else "oauth"}, notes=notes)
