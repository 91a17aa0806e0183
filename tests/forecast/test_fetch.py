"""Download clients against a local HTTP server on 127.0.0.1 (no network): UCDP, ACLED, refresh.

The server speaks each API's documented response format. Where each detail comes from:

* UCDP, https://ucdp.uu.se/apidocs/ (the API documentation): the versioned endpoint
  ``GET /api/gedevents/<version>``, the ``pagesize``/``page`` paging, the ``Country`` (Gleditsch-Ward
  code) and ``StartDate``/``EndDate`` filters, and the ``x-ucdp-access-token`` header required since
  2025. The response keys ``TotalCount``, ``TotalPages``, ``PreviousPageUrl``, ``NextPageUrl`` and
  ``Result``, 0-based pages (``page=0`` answered with ``NextPageUrl ...&page=1``), the record keys
  and value types (``date_start`` as ``2010-05-13T00:00:00``, ``gwnob`` null) follow the example
  exchange ``gedevents/25.1?pagesize=1&page=0`` published at
  https://apis.io/examples/uppsala/uppsala-gedevents-example/ and UCDP's own recipe
  (github.com/UppsalaConflictDataProgram/basic_api_recipes, ``ucdp_api2df.ipynb``: ``TotalPages``,
  ``Result``). Candidate releases are versions ``YY.0.M`` of the same endpoint: the R client
  github.com/guyschvitz/ucdp.api (README) loads "GED candidate event data for Nov 2022" as
  ``getUcdpData(dataset = "gedevents", version = "22.0.11")``. The answers to a wrong token (401)
  and an unknown version (404) are this server's choice: the documentation names no status codes,
  so the client treats 401/403 as refused credentials and 404 as an unknown address.
* ACLED, https://acleddata.com/api-documentation/getting-started (OAuth token-based
  authentication) and https://acleddata.com/api-documentation/importing-data-acled-api-powerbi
  (the token request spelled out): ``POST /oauth/token`` with the form fields ``username``,
  ``password``, ``grant_type=password`` and ``client_id=acled``, answering ``access_token``; then
  ``GET /api/acled/read?_format=json`` with ``Authorization: Bearer <token>``. The JSON answer
  carries "status, count, last update" besides the rows (https://apidocs.acleddata.com/
  generalities_section.html, "Response types"); the filters ``country``, ``event_date`` with
  ``event_date_where=BETWEEN`` (``a|b``) and the paging by ``limit`` and ``page`` from 1 are from
  the same page's "Queries" and "Limits & pagination" sections and the ACLED API User Guide 3.x
  ("&page=2 will return the next 500 rows"). The older access (``key`` + ``email`` query parameters
  on ``/acled/read``) is from that guide too.

Record values are hand-made (fixtures/fetch/*.json). Backoff sleeps are recorded, not slept.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pakcast.forecast.cli import app

FIX = Path(__file__).parent / "fixtures" / "fetch"
UCDP_EVENTS = json.loads((FIX / "ucdp_gedevents.json").read_text())["events"]
ACLED_ROWS = json.loads((FIX / "acled_read.json").read_text())["data"]
TOKEN = "ucdp-secret-token-7f3a"
ACLED_EMAIL = "analyst@example.org"
ACLED_PASSWORD = "acled-secret-pw-91c2"
ACLED_KEY = "acled-legacy-key-55d0"
ACLED_ACCESS = "acled-bearer-0b9e"
SECRETS = (TOKEN, ACLED_PASSWORD, ACLED_KEY, ACLED_ACCESS)
runner = CliRunner()


class FakeAPIs(ThreadingHTTPServer):
    """UCDP and ACLED on one port; ``faults[(path, page)]`` is a list of faults served first."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.versions = {"25.1": UCDP_EVENTS, "25.0.9": UCDP_EVENTS}
        self.faults: dict[tuple[str, int], list[str]] = {}
        self.log: list[dict] = []
        self.format_changed = False
        self.acled_cap: int | None = None  # rows a page the ACLED server serves at most
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fault(self, path: str, page: int) -> str | None:
        with self.lock:
            q = self.faults.get((path, page))
            return q.pop(0) if q else None

    def requests_for(self, path: str) -> list[dict]:
        return [r for r in self.log if r["path"] == path]


class Handler(BaseHTTPRequestHandler):
    server: FakeAPIs

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, obj, headers: dict | None = None, truncate: bool = False) -> None:
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            self.wfile.flush()
            self.close_connection = True

    def _fault(self, path: str, page: int) -> bool:
        f = self.server.fault(path, page)
        if f is None:
            return False
        if f == "429":
            self._send(429, {"message": "Too many requests"}, {"Retry-After": "2"})
        elif f == "500":
            self._send(500, {"message": "Internal server error"})
        elif f == "truncated":
            self._send(200, {"TotalCount": 0, "padding": "x" * 400}, truncate=True)
        return True

    def do_GET(self):  # noqa: N802
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        self.server.log.append({"method": "GET", "path": u.path, "query": q, "headers": dict(self.headers)})
        if u.path.startswith("/api/gedevents/"):
            return self._ucdp(u.path, q)
        if u.path in ("/api/acled/read", "/acled/read"):
            return self._acled(u.path, q)
        self._send(404, {"message": "no such endpoint"})

    def do_POST(self):  # noqa: N802
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        self.server.log.append({"method": "POST", "path": u.path, "query": {}, "form": form,
                                "headers": dict(self.headers)})
        if u.path != "/oauth/token":
            return self._send(404, {"message": "no such endpoint"})
        if (form.get("grant_type"), form.get("client_id")) != ("password", "acled"):
            return self._send(400, {"error": "unsupported_grant_type"})
        if (form.get("username"), form.get("password")) != (ACLED_EMAIL, ACLED_PASSWORD):
            return self._send(400, {"error": "invalid_grant",
                                    "error_description": "The user credentials were incorrect."})
        self._send(200, {"token_type": "Bearer", "expires_in": 86400, "access_token": ACLED_ACCESS,
                         "refresh_token": "refresh-xyz"})

    # -- UCDP --------------------------------------------------------------------------------
    def _ucdp(self, path: str, q: dict) -> None:
        version = path.rsplit("/", 1)[1]
        if self.headers.get("x-ucdp-access-token") != TOKEN:
            return self._send(401, {"message": "Access token missing or invalid"})
        if version not in self.server.versions:
            return self._send(404, {"message": f"Version {version} not found"})
        page, size = int(q.get("page", 0)), int(q.get("pagesize", 1))
        if self._fault(path, page):
            return
        ev = [e for e in self.server.versions[version] if str(e["country_id"]) == q.get("Country", str(e["country_id"]))]
        if "StartDate" in q:
            ev = [e for e in ev if e["date_start"][:10] >= q["StartDate"]]
        if "EndDate" in q:
            ev = [e for e in ev if e["date_start"][:10] <= q["EndDate"]]
        pages = max(1, math.ceil(len(ev) / size))
        chunk = ev[page * size:(page + 1) * size]
        base = f"{self.server.url}{path}?pagesize={size}"
        nxt = f"{base}&page={page + 1}" if page + 1 < pages and chunk else ""
        prev = f"{base}&page={page - 1}" if page > 0 else ""
        if self.server.format_changed:
            return self._send(200, {"count": len(ev), "items": chunk})
        self._send(200, {"TotalCount": len(ev), "TotalPages": pages if ev else 0, "PreviousPageUrl": prev,
                         "NextPageUrl": nxt, "Result": chunk})

    # -- ACLED -------------------------------------------------------------------------------
    def _acled(self, path: str, q: dict) -> None:
        if path == "/acled/read":
            if (q.get("key"), q.get("email")) != (ACLED_KEY, ACLED_EMAIL):
                return self._send(403, {"status": 403, "success": False,
                                        "error": {"status": 403, "message": "Access denied"}})
        elif self.headers.get("Authorization") != f"Bearer {ACLED_ACCESS}":
            return self._send(401, {"message": "Unauthorized"})
        page, limit = int(q.get("page", 1)), int(q.get("limit", 5000))
        limit = min(limit, self.server.acled_cap or limit)
        if self._fault(path, page):
            return
        rows = [r for r in ACLED_ROWS if r["country"] == q.get("country", r["country"])]
        if "event_date" in q:
            assert q.get("event_date_where") == "BETWEEN", q
            a, b = q["event_date"].split("|")
            rows = [r for r in rows if a <= r["event_date"] <= b]
        chunk = rows[(page - 1) * limit: page * limit]
        if self.server.format_changed:
            return self._send(200, {"status": 200, "success": True, "rows": chunk})
        self._send(200, {"status": 200, "success": True, "last_update": 12, "count": len(chunk),
                         "messages": [], "data": chunk, "filename": "acled"})


@pytest.fixture()
def api():
    srv = FakeAPIs()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def env(monkeypatch, tmp_path, api):
    """Every credential and API address from the environment; a private cache; no real sleeping."""
    from pakcast.forecast.fetch import http

    monkeypatch.setenv("UCDP_TOKEN", TOKEN)
    monkeypatch.setenv("ACLED_EMAIL", ACLED_EMAIL)
    monkeypatch.setenv("ACLED_PASSWORD", ACLED_PASSWORD)
    monkeypatch.delenv("ACLED_KEY", raising=False)
    monkeypatch.setenv("PAKCAST_UCDP_API_URL", f"{api.url}/api")
    monkeypatch.setenv("PAKCAST_ACLED_API_URL", api.url)
    monkeypatch.setenv("PAKCAST_HTTP_CACHE", str(tmp_path / "cache"))
    waits: list[float] = []
    monkeypatch.setattr(http, "_sleep", waits.append)
    return waits


def _client(tmp_path, **kw):
    from pakcast.forecast.fetch.http import HttpClient

    waits: list[float] = []
    kw.setdefault("cache_dir", tmp_path / "cache")
    return HttpClient(kw.pop("service", "UCDP"), sleep=waits.append, **kw), waits


def _no_secret_anywhere(*roots: Path, texts: tuple[str, ...] = ()) -> None:
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for p in files:
            data = p.read_bytes()
            for s in SECRETS:
                assert s.encode() not in data, f"credential {s!r} written to {p}"
    for t in texts:
        for s in SECRETS:
            assert s not in t, f"credential {s!r} in output"


# ---------------------------------------------------------------------------------------------
# UCDP
# ---------------------------------------------------------------------------------------------
def test_ucdp_several_pages_official_schema_and_manifest(api, tmp_path):
    from pakcast.forecast.fetch.ucdp import GED_COLUMNS, fetch_ucdp
    from pakcast.forecast.sources.ucdp import read_ucdp

    client, waits = _client(tmp_path)
    out = tmp_path / "ged.csv"
    res = fetch_ucdp(out, dataset="candidate", version="25.0.9", token=TOKEN, api_url=f"{api.url}/api",
                     pagesize=3, client=client)
    pak = [e for e in UCDP_EVENTS if e["country_id"] == 770]
    assert res.records == len(pak) == 7 and res.pages == 3 and waits == []
    hits = api.requests_for("/api/gedevents/25.0.9")
    assert [r["query"]["page"] for r in hits] == ["0", "1", "2"]
    assert all(r["query"]["Country"] == "770" and r["query"]["pagesize"] == "3" for r in hits)
    df = pd.read_csv(out, dtype=str)
    assert list(df.columns) == GED_COLUMNS
    assert df["date_start"].iloc[0] == "2025-07-03 00:00:00.000"  # as in the official GED CSV
    rr = read_ucdp(out)
    assert rr.accepted == 7 and rr.rejected == 0
    assert int(rr.events["killed"].sum()) == sum(e["best"] for e in pak)
    m = json.loads(res.manifest.read_text())
    assert m["options"]["url"] == f"{api.url}/api/gedevents/25.0.9"
    assert m["options"]["params"] == {"pagesize": 3, "Country": 770} and m["options"]["records"] == 7
    assert m["outputs"][0]["sha256"] == res.sha256 and m["created"]
    assert not list(tmp_path.glob(".ged.csv.partial*"))
    _no_secret_anywhere(tmp_path)


def test_ucdp_since_filter_reaches_the_api(api, tmp_path):
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    client, _ = _client(tmp_path)
    res = fetch_ucdp(tmp_path / "c.csv", dataset="candidate", version="25.0.9", since="2025-08-01",
                     token=TOKEN, api_url=f"{api.url}/api", client=client)
    assert res.records == 5
    assert api.requests_for("/api/gedevents/25.0.9")[0]["query"]["StartDate"] == "2025-08-01"


def test_429_then_success_honours_retry_after(api, tmp_path):
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    api.faults[("/api/gedevents/25.1", 1)] = ["429"]
    client, waits = _client(tmp_path, backoff=0.5)
    res = fetch_ucdp(tmp_path / "g.csv", dataset="ged", version="25.1", token=TOKEN, api_url=f"{api.url}/api",
                     pagesize=4, client=client)
    assert res.records == 7 and waits == [2.0]  # the server's Retry-After: 2, not the 0.5 s backoff
    assert [r["query"]["page"] for r in api.requests_for("/api/gedevents/25.1")] == ["0", "1", "1"]


def test_500_and_truncated_body_then_success_with_exponential_backoff(api, tmp_path):
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    api.faults[("/api/gedevents/25.1", 0)] = ["500", "truncated", "500"]
    client, waits = _client(tmp_path, backoff=0.25)
    res = fetch_ucdp(tmp_path / "g.csv", dataset="ged", version="25.1", token=TOKEN, api_url=f"{api.url}/api",
                     client=client)
    assert res.records == 7 and waits == [0.25, 0.5, 1.0] and res.retries == 3


def test_retries_exhausted_is_one_clear_error_and_no_output(api, tmp_path):
    from pakcast.forecast.fetch.http import FetchError
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    api.faults[("/api/gedevents/25.1", 0)] = ["500"] * 10
    client, waits = _client(tmp_path, max_retries=2, backoff=0.1)
    with pytest.raises(FetchError, match=r"HTTP 500 on all 3 attempts") as ei:
        fetch_ucdp(tmp_path / "g.csv", dataset="ged", version="25.1", token=TOKEN, api_url=f"{api.url}/api",
                   client=client)
    assert "\n" not in str(ei.value) and TOKEN not in str(ei.value)
    assert not (tmp_path / "g.csv").exists() and len(waits) == 2


def test_unreachable_server(tmp_path):
    from pakcast.forecast.fetch.http import UnreachableError
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    client, waits = _client(tmp_path, max_retries=1, timeout=2)
    with pytest.raises(UnreachableError, match="UCDP not reachable"):
        fetch_ucdp(tmp_path / "g.csv", dataset="ged", version="25.1", token=TOKEN,
                   api_url="http://127.0.0.1:9/api", client=client)


def test_resume_after_an_interrupted_download(api, tmp_path):
    from pakcast.forecast.fetch.http import FetchError
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    out = tmp_path / "g.csv"
    api.faults[("/api/gedevents/25.1", 2)] = ["500", "500"]
    client, _ = _client(tmp_path, max_retries=1, cache_dir=None)
    kw = dict(dataset="ged", version="25.1", token=TOKEN, api_url=f"{api.url}/api", pagesize=2)
    with pytest.raises(FetchError):
        fetch_ucdp(out, client=client, **kw)
    assert not out.exists()  # a partial download never looks complete
    state = json.loads((tmp_path / ".g.csv.partial.json").read_text())
    assert state["pages_done"] == 2 and state["next_page"] == 2
    _no_secret_anywhere(tmp_path)
    api.log.clear()
    client, _ = _client(tmp_path, cache_dir=None)  # no cache: the state file alone resumes
    res = fetch_ucdp(out, client=client, **kw)
    assert res.resumed_from_page == 2 and res.records == 7 and res.pages == 4
    assert [r["query"]["page"] for r in api.requests_for("/api/gedevents/25.1")] == ["2", "3"]
    assert pd.read_csv(out)["id"].tolist() == [e["id"] for e in UCDP_EVENTS if e["country_id"] == 770]
    assert not list(tmp_path.glob(".g.csv.partial*"))
    # a different request does not reuse another request's state
    api.faults[("/api/gedevents/25.1", 1)] = ["500", "500"]
    client, _ = _client(tmp_path, max_retries=1, cache_dir=None)
    with pytest.raises(FetchError):
        fetch_ucdp(out, client=client, since="2025-07-10", **kw)
    client, _ = _client(tmp_path, cache_dir=None)
    res = fetch_ucdp(out, client=client, **kw)
    assert res.resumed_from_page is None and res.records == 7


def test_cache_is_keyed_by_the_request_without_credentials(api, tmp_path):
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    client, _ = _client(tmp_path)
    kw = dict(dataset="ged", version="25.1", api_url=f"{api.url}/api", pagesize=4)
    fetch_ucdp(tmp_path / "a.csv", token=TOKEN, client=client, **kw)
    n = len(api.log)
    client2, _ = _client(tmp_path)
    res = fetch_ucdp(tmp_path / "b.csv", token=TOKEN, client=client2, **kw)
    assert len(api.log) == n and res.cached_responses == 2 and res.requests == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    client3, _ = _client(tmp_path)
    fetch_ucdp(tmp_path / "c.csv", token=TOKEN, client=client3, since="2025-08-01", **kw)
    assert len(api.log) > n  # another request is another key
    _no_secret_anywhere(tmp_path / "cache")


def test_ucdp_errors_are_one_line_without_traceback(api, env, tmp_path):
    base = ["fetch", "ucdp", "--dataset", "ged", "--version", "25.1", "--out", str(tmp_path / "x.csv")]
    cases = {
        "wrong token": (base + ["--token", "not-the-token"], "refused the credentials (HTTP 401)"),
        "unknown version": (["fetch", "ucdp", "--dataset", "ged", "--version", "19.1", "--out",
                             str(tmp_path / "x.csv")], "no ged version 19.1"),
        "malformed version": (["fetch", "ucdp", "--dataset", "ged", "--version", "25.0.9", "--out",
                               str(tmp_path / "x.csv")], "is a candidate version"),
        "empty result": (base + ["--since", "2026-01-01"], "returned no events"),
    }
    for name, (args, msg) in cases.items():
        r = runner.invoke(app, args)
        assert r.exit_code == 1, (name, r.output)
        assert msg in r.output, (name, r.output)
        assert "Traceback" not in r.output and r.output.strip().count("\n") == 0, (name, r.output)
        assert not (tmp_path / "x.csv").exists()
        _no_secret_anywhere(tmp_path, texts=(r.output,))
    api.format_changed = True
    r = runner.invoke(app, base)
    assert r.exit_code == 1 and "unexpected response format" in r.output and "Traceback" not in r.output
    assert r.output.strip().count("\n") == 0


def test_fetch_ucdp_cli_then_ingest_and_panel_end_to_end(api, env, tmp_path, monkeypatch):
    out, store = tmp_path / "ucdp_candidate.csv", tmp_path / "store.duckdb"
    args = ["fetch", "ucdp", "--dataset", "candidate", "--version", "25.0.9", "--out", str(out), "--token", TOKEN]
    monkeypatch.setattr(sys, "argv", ["pakcast", *args])
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "7 UCDP candidate records" in r.output
    _no_secret_anywhere(tmp_path, texts=(r.output,))
    m = json.loads((tmp_path / "ucdp_candidate.manifest.json").read_text())
    assert "***" in m["argv"] and TOKEN not in json.dumps(m)
    r = runner.invoke(app, ["ingest", str(out), "--source", "ucdp", "--store", str(store)])
    assert r.exit_code == 0, r.output
    from pakcast.forecast.store import Store

    ev = Store(store).events("ucdp")
    assert len(ev) == 7
    pan = tmp_path / "panel.csv"
    r = runner.invoke(app, ["panel", "--store", str(store), "--source", "ucdp", "--scope", "all", "--out", str(pan)])
    assert r.exit_code == 0, r.output
    p = pd.read_csv(pan)
    p["period"] = p["period"].str.slice(0, 7)
    nat = p[p["province"] == "Pakistan"].set_index("period")
    pak = [e for e in UCDP_EVENTS if e["country_id"] == 770]
    assert int(nat["attacks"].sum()) == 7 and int(nat["killed"].sum()) == sum(e["best"] for e in pak)
    by_month = {m: sum(1 for e in pak if e["date_start"][:7] == m) for m in ("2025-07", "2025-08", "2025-09")}
    assert nat.loc[list(by_month), "attacks"].tolist() == list(by_month.values())
    kp = p[(p["province"] == "Khyber Pakhtunkhwa")]
    assert int(kp["attacks"].sum()) == sum(1 for e in pak if e["adm_1"].startswith("Khyber"))


# ---------------------------------------------------------------------------------------------
# ACLED
# ---------------------------------------------------------------------------------------------
def test_acled_oauth_pages_and_reader_schema(api, tmp_path):
    from pakcast.forecast.fetch.acled import fetch_acled
    from pakcast.forecast.sources.acled import read_acled

    client, waits = _client(tmp_path, service="ACLED")
    out = tmp_path / "acled.csv"
    api.faults[("/api/acled/read", 2)] = ["429", "500"]
    res = fetch_acled(out, since="2025-07-01", until="2025-09-30", email=ACLED_EMAIL, password=ACLED_PASSWORD,
                      api_url=api.url, limit=2, client=client)
    assert res.records == 5 and res.pages == 3 and waits[0] == 2.0 and len(waits) == 2
    tok = api.requests_for("/oauth/token")
    assert len(tok) == 1 and tok[0]["form"]["grant_type"] == "password" and tok[0]["form"]["client_id"] == "acled"
    reads = api.requests_for("/api/acled/read")
    assert all(r["headers"]["Authorization"] == f"Bearer {ACLED_ACCESS}" for r in reads)
    q = reads[0]["query"]
    assert q["event_date"] == "2025-07-01|2025-09-30" and q["event_date_where"] == "BETWEEN"
    assert q["country"] == "Pakistan" and q["_format"] == "json" and q["page"] == "1"
    rr = read_acled(out)
    assert rr.accepted == 5 and rr.rejected == 0
    assert int(rr.events["killed"].sum()) == sum(int(r["fatalities"]) for r in ACLED_ROWS)
    m = json.loads(res.manifest.read_text())
    assert m["options"]["params"]["event_date"] == "2025-07-01|2025-09-30" and m["options"]["records"] == 5
    _no_secret_anywhere(tmp_path)


def test_acled_server_serving_fewer_rows_than_asked_loses_nothing(api, tmp_path):
    from pakcast.forecast.fetch.acled import fetch_acled

    api.acled_cap = 2
    client, _ = _client(tmp_path, service="ACLED")
    res = fetch_acled(tmp_path / "a.csv", email=ACLED_EMAIL, password=ACLED_PASSWORD, api_url=api.url,
                      client=client)
    assert res.records == 5 and res.pages == 3  # 2 + 2 + 1: the short third page ends it


def test_acled_legacy_key_access_redacts_key_and_email(api, tmp_path):
    from pakcast.forecast.fetch.acled import fetch_acled

    client, _ = _client(tmp_path, service="ACLED")
    res = fetch_acled(tmp_path / "a.csv", email=ACLED_EMAIL, key=ACLED_KEY, api_url=api.url, client=client)
    assert res.records == 5
    assert api.requests_for("/acled/read")[0]["query"]["key"] == ACLED_KEY
    m = json.loads(res.manifest.read_text())
    assert m["options"]["params"]["key"] == "***" and m["options"]["params"]["email"] == "***"
    _no_secret_anywhere(tmp_path)
    assert ACLED_EMAIL not in res.manifest.read_text()
    assert not any(ACLED_EMAIL in p.read_text() for p in (tmp_path / "cache").glob("*.json"))


def test_acled_errors_are_one_line(api, env, tmp_path, monkeypatch):
    out = tmp_path / "a.csv"
    base = ["fetch", "acled", "--out", str(out)]
    r = runner.invoke(app, base + ["--password", "wrong-password-123"])
    assert r.exit_code == 1 and "ACLED refused the credentials" in r.output and "invalid_grant" in r.output
    assert "wrong-password-123" not in r.output and r.output.strip().count("\n") == 0
    r = runner.invoke(app, base + ["--since", "2026-01-01"])
    assert r.exit_code == 1 and "returned no events" in r.output and r.output.strip().count("\n") == 0
    monkeypatch.delenv("ACLED_PASSWORD")
    r = runner.invoke(app, base)
    assert r.exit_code == 1 and "no ACLED credentials" in r.output
    monkeypatch.setenv("ACLED_PASSWORD", ACLED_PASSWORD)
    api.format_changed = True
    r = runner.invoke(app, base)
    assert r.exit_code == 1 and "unexpected response format" in r.output and "Traceback" not in r.output
    assert not out.exists()
    _no_secret_anywhere(tmp_path, texts=(r.output,))


def test_fetch_acled_cli_then_ingest_and_panel_end_to_end(api, env, tmp_path):
    out, store = tmp_path / "acled.csv", tmp_path / "store.duckdb"
    r = runner.invoke(app, ["fetch", "acled", "--since", "2025-07-01", "--out", str(out)])
    assert r.exit_code == 0, r.output
    _no_secret_anywhere(tmp_path, texts=(r.output,))
    r = runner.invoke(app, ["ingest", str(out), "--source", "acled", "--store", str(store)])
    assert r.exit_code == 0, r.output
    pan = tmp_path / "panel.csv"
    r = runner.invoke(app, ["panel", "--store", str(store), "--source", "acled", "--out", str(pan)])
    assert r.exit_code == 0, r.output
    p = pd.read_csv(pan)
    nat = p[p["province"] == "Pakistan"]
    # militant scope: the protest is 'other'; the week-precision event (+/- 3 days) stays inside August
    violent = [x for x in ACLED_ROWS if x["event_type"] != "Protests"]
    assert int(nat["attacks"].sum()) == len(violent) == 4
    assert int(nat["killed"].sum()) == sum(int(x["fatalities"]) for x in violent)


# ---------------------------------------------------------------------------------------------
# the refresh step: fetch -> ingest -> panel -> quarterly run
# ---------------------------------------------------------------------------------------------
def _candidate_2022q1() -> list[dict]:
    """The fixture's Pakistan events moved to January-March 2022 (right after the shipped GED 22.1),
    with ids outside the GED's range."""
    import copy

    out = []
    for e in UCDP_EVENTS:
        e = copy.deepcopy(e)
        month = {"07": "01", "08": "02", "09": "03"}[e["date_start"][5:7]]
        day = min(int(e["date_start"][8:10]), 28)  # February has 28 days
        for c in ("date_start", "date_end"):
            e[c] = f"2022-{month}-{day:02d}{e[c][10:]}"
        e["year"] = 2022
        e["id"] = 9_000_000 + e["id"]
        out.append(e)
    return out


@pytest.fixture()
def history_store(tmp_path):
    """A store holding the shipped UCDP GED 22.1 events (1989-2021), as after a first `pakcast ingest`."""
    from pakcast.forecast import panel as pn
    from pakcast.forecast import paths
    from pakcast.forecast.store import Store

    store = tmp_path / "store.duckdb"
    ev = pn.load_shipped_events()
    Store(store).ingest(ev, None, paths.shipped(pn.SHIPPED_EVENTS), "ucdp", {"shipped": True})
    return store, ev


def test_refresh_fetches_ingests_and_builds_the_panel_from_the_store(api, env, tmp_path, history_store,
                                                                     monkeypatch):
    from pakcast.forecast.refresh import RefreshConfig, parse_sources, refresh
    from pakcast.forecast.store import Store

    store, shipped = history_store
    api.versions["22.0.3"] = _candidate_2022q1()
    monkeypatch.setenv("PAKCAST_ACLED_API_URL", "http://127.0.0.1:9")  # ACLED unreachable
    cfg = RefreshConfig(sources=parse_sources("ucdp:candidate:22.0.3,acled"), out_dir=tmp_path / "dl",
                        store=store, retries=1, timeout=2)
    rep = refresh(cfg)
    ok, failed = rep.sources
    assert ok.status == "ok" and ok.records == 7 and ok.ingest["inserted"] == 7 and ok.ingest["rejected"] == 0
    assert failed.name == "acled" and failed.status == "failed" and "ACLED not reachable" in failed.error
    assert list(rep.not_produced()) == ["refresh acled"]
    assert len(Store(store).events("ucdp")) == len(shipped) + 7
    panel = pd.read_csv(rep.panel_path)
    nat = panel[panel["province"] == "Pakistan"].assign(period=lambda d: d["period"].str.slice(0, 7))
    assert rep.panel["last_month"] == "2022-03" and rep.panel["first_month"] == "1989-01"
    q1 = nat[nat["period"].isin(["2022-01", "2022-02", "2022-03"])]
    militant = [e for e in _candidate_2022q1() if e["country_id"] == 770]  # all militant scope
    assert q1["attacks"].tolist() == [2, 3, 2] and int(q1["killed"].sum()) == sum(e["best"] for e in militant)
    # the panel of the store equals the shipped panel where the two overlap
    from pakcast.forecast.panel import load_panel

    shipped_nat = load_panel("month").query("unique_id == 'Pakistan'")
    shipped_nat = shipped_nat.assign(period=shipped_nat["ds"].dt.strftime("%Y-%m")).set_index("period")
    both = nat.set_index("period").join(shipped_nat[["attacks"]].add_suffix("_shipped"), how="inner")
    assert len(both) == 33 * 12 and (both["attacks"] == both["attacks_shipped"]).all()
    _no_secret_anywhere(tmp_path / "dl", tmp_path / "cache")


def test_refresh_source_specs_are_validated(tmp_path, monkeypatch):
    from pakcast.forecast.errors import InputError
    from pakcast.forecast.refresh import parse_sources

    monkeypatch.delenv("PAKCAST_REFRESH", raising=False)
    assert [s.name for s in parse_sources("ucdp:ged:25.1, acled")] == ["ucdp ged 25.1", "acled"]
    for bad in ("ucdp", "ucdp:candidate:25.1", "gtd", ""):
        with pytest.raises(InputError):
            parse_sources(bad)
    base = ["quarterly", "--refresh", "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "o")]
    for extra, msg in ((["--refresh-sources", "gtd"], "refresh source 'gtd'"), ([], "no sources configured"),
                       (["--refresh-sources", "acled", "--input", "x.csv"], "do not give --input")):
        r = runner.invoke(app, base + extra)
        assert r.exit_code == 1 and msg in r.output and "Traceback" not in r.output, (extra, r.output)
    r = runner.invoke(app, ["quarterly", "--refresh", "--refresh-sources", "acled", "--store", "none",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "give --store PATH" in r.output


def test_quarterly_refresh_runs_on_the_refreshed_store_and_says_what_failed(api, env, tmp_path, history_store,
                                                                           monkeypatch):
    store, _ = history_store
    api.versions["22.0.3"] = _candidate_2022q1()
    monkeypatch.setenv("PAKCAST_ACLED_API_URL", "http://127.0.0.1:9")
    out = tmp_path / "run"
    r = runner.invoke(app, ["quarterly", "--refresh", "--refresh-sources", "ucdp:candidate:22.0.3,acled",
                            "--store", str(store), "--out", str(out), "--models", "zero,historical_rate",
                            "--scheduler", "serial", "--n-samples", "100", "--backtest-start", "2021-01-01",
                            "--no-studies", "--no-bayes"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["as_of"] == "2022-03" and res["forecast_quarters"][0] == "2022Q2"
    assert res["data"]["file"].endswith("refresh/panel_ucdp_month.csv")
    ref = res["refresh"]
    assert [s["status"] for s in ref["sources"]] == ["ok", "failed"] and ref["failed"] == ["acled"]
    assert "refresh acled" in res["not_produced"] and "ACLED not reachable" in res["not_produced"]["refresh acled"]
    html = (out / "briefing.html").read_text()
    assert "refresh acled" in html and "not refreshed" in html
    assert (out / "refresh" / "ucdp_candidate_22.0.3.csv").exists()
    m = json.loads((out / "manifest.json").read_text())
    ins = {i["role"]: i for i in m["inputs"]}
    assert ins["refresh ucdp candidate 22.0.3"]["path"].endswith("refresh/ucdp_candidate_22.0.3.csv")
    assert ins["panel"]["path"].endswith("refresh/panel_ucdp_month.csv")
    _no_secret_anywhere(out, texts=(r.output,))


# ---------------------------------------------------------------------------------------------
# the README's quarterly routine, command by command, against the local server
# ---------------------------------------------------------------------------------------------
README_SECTION = Path(__file__).resolve().parents[2] / "docs" / "readme" / "quarterly.md"
# appended to the README's quarterly command so that the test runs in seconds, not an hour; the
# briefing is then built by the routine's last step (`pakcast report`)
FAST_QUARTERLY = ["--models", "zero,historical_rate", "--scheduler", "serial", "--n-samples", "100",
                  "--backtest-start", "2024-01-01", "--no-studies", "--no-bayes", "--no-report"]


def _routine_commands() -> list[list[str]]:
    import shlex

    text = README_SECTION.read_text(encoding="utf-8")
    block = text.split("<!-- routine:start", 1)[1].split("<!-- routine:end -->", 1)[0]
    block = block.split("```bash", 1)[1].rsplit("```", 1)[0].replace("\\\n", " ")
    cmds = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line.startswith(".venv/bin/pakcast "):
            cmds.append(shlex.split(line)[1:])
    return cmds


def _ged_records(events: pd.DataFrame) -> list[dict]:
    """Canonical UCDP events back into GED API records (the fields the reader uses, scope kept)."""
    prec = {"day": 1, "week": 2, "month": 4, "year": 5}
    out = []
    for r in events.itertuples():
        scope, tov = r.scope, int(r.type_of_violence)
        gwnoa, gwnob = ("770" if tov == 1 else None), None
        side_a = "Government of Pakistan" if tov == 1 else "Armed group"
        if scope == "foreign":
            gwnoa, side_a = "2", "Government of United States of America"
        elif scope == "interstate":
            gwnoa, gwnob, side_a = "750", "770", "Government of India"
        src = r.province_method == "source"
        out.append({"id": int(r.event_id), "type_of_violence": tov, "conflict_name": r.conflict_name,
                    "side_a": side_a, "side_b": "Civilians" if tov == 3 else "TTP",
                    "where_prec": 1 if src else (3 if r.province_method == "point_in_polygon" else 6),
                    "adm_1": r.province if src else None, "adm_2": None,
                    "latitude": None if pd.isna(r.latitude) else float(r.latitude),
                    "longitude": None if pd.isna(r.longitude) else float(r.longitude),
                    "country": "Pakistan", "country_id": 770, "date_prec": prec[r.date_precision],
                    "date_start": f"{r.date:%Y-%m-%d}T00:00:00", "date_end": f"{r.date_end:%Y-%m-%d}T00:00:00",
                    "best": int(r.killed), "low": int(r.killed_low), "high": int(r.killed_high),
                    "gwnoa": gwnoa, "gwnob": gwnob})
    return out


def test_readme_quarterly_routine_runs_step_by_step(api, env, tmp_path, monkeypatch):
    from pakcast.forecast import panel as pn
    from pakcast.forecast.store import Store

    shipped = pn.load_shipped_events()
    api.versions["25.1"] = _ged_records(shipped)  # the yearly release: here the shipped history
    cand = json.loads(json.dumps(UCDP_EVENTS))
    for e in cand:
        e["id"] += 9_000_000
    api.versions["25.0.9"] = cand
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAKCAST_REPORTED", str(tmp_path / "my_reported.csv"))
    (tmp_path / "data").mkdir()
    cmds = _routine_commands()
    assert [c[0] for c in cmds] == ["fetch", "ingest", "fetch", "fetch", "reported", "reported", "quarterly", "report"]
    outputs = []
    for args in cmds:
        if args[0] == "quarterly":
            args = args + FAST_QUARTERLY
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
        outputs.append(r.output)
    assert len(Store("my.duckdb").events("ucdp")) == len(shipped) + 7
    res = json.loads((tmp_path / "reports" / "2025Q3" / "results.json").read_text())
    assert res["as_of"] == "2025-09" and res["refresh"]["failed"] == []
    st = {s["name"]: s for s in res["refresh"]["sources"]}
    assert st["ucdp candidate 25.0.9"]["records"] == 7 and st["acled"]["records"] == 5
    # step 3 reused step 1's responses: UCDP one page; ACLED one page and the empty page that ends it
    assert len(api.requests_for("/api/gedevents/25.0.9")) == 1 and len(api.requests_for("/api/acled/read")) == 2
    # the shipped history ends in 2021 and the candidate month starts in 2025: the gap is flagged
    assert any("2022-01..2025-06" in n for n in res["notes"]), res["notes"]
    # the yearly release went through the API, the GED CSV and ingest unchanged: same panel as shipped
    panel = pd.read_csv(tmp_path / "reports" / "2025Q3" / "refresh" / "panel_ucdp_month.csv")
    nat = panel[panel["province"] == "Pakistan"].assign(period=lambda d: d["period"].str.slice(0, 7))
    ship = pn.load_panel("month").query("unique_id == 'Pakistan'")
    ship = ship.assign(period=ship["ds"].dt.strftime("%Y-%m")).set_index("period")["attacks"]
    both = nat.set_index("period")["attacks"].to_frame().join(ship.rename("shipped"), how="inner")
    assert len(both) == 33 * 12 and (both["attacks"] == both["shipped"]).all()
    assert (tmp_path / "reports" / "2025Q3" / "briefing.html").exists()
    # the figure typed in at step 2 is in the store and in the run's published aggregates
    assert res["refresh"]["reported"]["inserted"] == 1 and res["refresh"]["reported"]["rejected"] == 0
    assert len(Store("my.duckdb").reported()) == 1
    rep = pd.read_csv(tmp_path / "reports" / "2025Q3" / "reported.csv", dtype=str)
    mine = rep[rep["url"] == "https://www.dawn.com/news/1952551"]
    assert mine[["source", "period", "metric", "value"]].values.tolist() == [["PICSS", "2025-09", "attacks", "69.0"]]
    assert "PICSS" in outputs[5] and "2025-09" in outputs[5]
    _no_secret_anywhere(tmp_path, texts=tuple(outputs))
