r"""The HTTP client shared by every download client (standard library only: :mod:`urllib`).

What it guarantees
------------------
* **Retries** on HTTP 429 and 5xx, on connection failures, timeouts and truncated bodies, with
  exponential backoff: attempt :math:`k` (0-based) waits

  .. math::  w_k = \min(b \cdot 2^{k},\ w_{\max})

  seconds, or the server's ``Retry-After`` (seconds or an HTTP date) when it sends one (capped
  at ``max_retry_after``). After ``max_retries`` retries the request fails with
  :class:`UnreachableError` (network) or :class:`FetchError` (the last HTTP status).
* **Clear errors**, one line each, as :class:`pakcast.forecast.errors.PakcastError` subclasses:
  :class:`AuthError` (401/403: credentials refused), :class:`NotFoundError` (404: an unknown
  dataset version or address), :class:`FormatError` (the response is not what the service
  documents), :class:`UnreachableError`. Every message is scrubbed of the credentials the client
  was given (:meth:`HttpClient.scrub`).
* **A cache keyed by the request**: method, URL and the query parameters *without* credentials
  (:data:`SECRET_PARAMS`; headers never enter the key). Entries live in ``cache_dir`` (default
  ``<user cache dir>/pakcast/http``) as JSON and expire after ``cache_ttl`` seconds (``None``:
  never, for immutable versioned releases).
* **Resumable paged downloads** (:func:`download_pages`): after every page the records are
  appended to ``<state>.jsonl`` (fsynced) and the page counter to ``<state>`` (atomic), so an
  interrupted download restarts from the first missing page of the *same* request; a different
  request discards the old state.
* **Atomic output with a manifest** (:func:`write_output`): the file appears complete or not at
  all (:func:`pakcast.forecast.io.atomic_write_text`), and ``<stem>.manifest.json`` beside it
  (:class:`pakcast.forecast.manifest.RunManifest`) records the URL, the parameters with
  credentials redacted, the time, the number of records and the file's sha256.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pakcast.forecast.errors import PakcastError
from pakcast.forecast.io import atomic_write_text, sha256_file

__all__ = ["HttpClient", "Response", "Page", "FetchResult", "FetchError", "AuthError", "NotFoundError",
           "FormatError", "UnreachableError", "SECRET_PARAMS", "redact", "redact_argv", "download_pages",
           "write_output", "default_cache_dir"]

#: query/form parameters that carry credentials: redacted in manifests, left out of cache keys
SECRET_PARAMS = frozenset({"key", "email", "password", "username", "token", "access_token", "client_secret",
                           "refresh_token"})
#: command-line options whose value is a credential (redacted in the manifest's argv)
SECRET_OPTIONS = ("--token", "--password", "--key", "--email", "--username")
REDACTED = "***"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class FetchError(PakcastError):
    """A download failed; the message says which service, what happened and what to do."""


class AuthError(FetchError):
    """The service refused the credentials (HTTP 401/403)."""


class NotFoundError(FetchError):
    """The address does not exist on the service (HTTP 404): e.g. an unknown dataset version."""


class FormatError(FetchError):
    """The response does not have the documented format (the service changed, or a proxy answered)."""


class UnreachableError(FetchError):
    """The service could not be reached (network failure, timeouts) after every retry."""


def redact(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` with every credential value replaced by ``***``."""
    return {k: (REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in (params or {}).items()}


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line with the values of credential options (``--token X``, ``--token=X``) redacted."""
    out: list[str] = []
    hide_next = False
    for a in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name = a.split("=", 1)[0]
        if name in SECRET_OPTIONS:
            if "=" in a:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(a)
                hide_next = True
            continue
        out.append(a)
    return out


def default_cache_dir() -> Path:
    """``$PAKCAST_HTTP_CACHE`` or ``<user cache dir>/pakcast/http``."""
    if os.environ.get("PAKCAST_HTTP_CACHE"):
        return Path(os.environ["PAKCAST_HTTP_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("pakcast")) / "http"


@dataclass
class Response:
    """One HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    from_cache: bool = False

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason, self.wait, self.status = reason, wait, status


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def _sleep(seconds: float) -> None:
    """The backoff wait (module-level so that tests can replace it)."""
    time.sleep(seconds)


class HttpClient:
    """Retrying, caching HTTP client (see the module docstring).

    Parameters
    ----------
    service : name used in messages (``"UCDP"``, ``"ACLED"``).
    timeout : seconds for connecting and for each read.
    max_retries : retries after the first attempt (429, 5xx, network failures, truncated bodies).
    backoff, max_backoff : :math:`b` and :math:`w_{\\max}` of the backoff (seconds).
    max_retry_after : longest ``Retry-After`` honoured (seconds).
    cache_dir : response cache (``None``: no cache).
    cache_ttl : seconds a cached response stays valid (``None``: for ever).
    secrets : credential values to scrub from every message.
    sleep : the wait function (tests pass a recorder).
    """

    def __init__(self, service: str, *, timeout: float = 60.0, max_retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 60.0, max_retry_after: float = 300.0, cache_dir: str | Path | None = None,
                 cache_ttl: float | None = None, secrets: Iterable[str] = (),
                 sleep: Callable[[float], None] | None = None):
        from pakcast import __version__

        self.service = service
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff, self.max_backoff, self.max_retry_after = float(backoff), float(max_backoff), float(max_retry_after)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cache_ttl = cache_ttl
        self.secrets = [s for s in secrets if s]
        self.sleep = sleep if sleep is not None else _sleep
        self.user_agent = f"pakcast/{__version__} (+https://github.com/pakcast)"
        self.waits: list[float] = []  # every backoff wait, for the summary and the tests
        self.n_requests = 0
        self.n_cached = 0

    # -- messages ---------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """``text`` with every credential value (and its URL-encoded form) replaced by ``***``."""
        for s in self.secrets:
            for form in {s, urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s)}:
                text = text.replace(form, REDACTED)
        return text

    def add_secret(self, value: str | None) -> None:
        if value:
            self.secrets.append(value)

    def _where(self, url: str, params: Mapping[str, Any] | None) -> str:
        q = urllib.parse.urlencode(redact(params), safe="|,:") if params else ""
        return self.scrub(url + ("?" + q if q else ""))

    # -- cache ------------------------------------------------------------------------------
    def cache_key(self, method: str, url: str, params: Mapping[str, Any] | None) -> str:
        """sha256 of the method, URL and the non-credential parameters (sorted)."""
        safe = sorted((k, str(v)) for k, v in (params or {}).items() if k.lower() not in SECRET_PARAMS)
        blob = json.dumps([method.upper(), url, safe], separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{key}.json"

    def _cache_get(self, key: str) -> Response | None:
        p = self._cache_path(key)
        if p is None or not p.exists():
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if self.cache_ttl is not None and time.time() - float(rec.get("stored", 0)) > self.cache_ttl:
            return None
        return Response(200, {}, rec["body"].encode("utf-8"), from_cache=True)

    def _cache_put(self, key: str, method: str, url: str, params: Mapping[str, Any] | None, body: bytes) -> None:
        p = self._cache_path(key)
        if p is None:
            return
        safe = {k: v for k, v in (params or {}).items() if k.lower() not in SECRET_PARAMS}
        rec = {"request": {"method": method, "url": self.scrub(url), "params": safe}, "stored": time.time(),
               "body": self.scrub(body.decode("utf-8", errors="replace"))}
        atomic_write_text(p, json.dumps(rec, ensure_ascii=False))

    # -- requests ---------------------------------------------------------------------------
    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
              data: Mapping[str, str] | None) -> Response:
        full = url + ("?" + urllib.parse.urlencode(params, safe="|,:") if params else "")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json", **(headers or {})}
        if body is not None:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        req = urllib.request.Request(full, data=body, headers=hdrs, method=method)
        self.n_requests += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, payload)
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read()
            except (OSError, http.client.HTTPException):
                payload = b""
            hdrs_in = {k.lower(): v for k, v in (exc.headers.items() if exc.headers else [])}
            if exc.code in RETRY_STATUS:
                raise _Retry(f"HTTP {exc.code}", _retry_after(hdrs_in.get("retry-after")), exc.code) from None
            return Response(exc.code, hdrs_in, payload)
        except http.client.IncompleteRead as exc:
            raise _Retry(f"truncated response ({len(exc.partial)} bytes received, "
                         f"{exc.expected} more expected)") from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
                http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retry(f"{type(exc).__name__}: {reason}") from None

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
                what: str = "request") -> Response:
        """One request with retries; returns the final response (status < 500 and not 429).

        Raises :class:`UnreachableError` or :class:`FetchError` when every attempt failed.
        """
        last: _Retry | None = None
        for attempt in range(self.max_retries + 1):
            try:
                return self._once(method, url, params, headers, data)
            except _Retry as r:
                last = r
                if attempt == self.max_retries:
                    break
                wait = min(self.backoff * 2 ** attempt, self.max_backoff)
                if r.wait is not None:
                    wait = min(r.wait, self.max_retry_after)
                self.waits.append(wait)
                self.sleep(wait)
        assert last is not None
        where = self._where(url, params)
        n = self.max_retries + 1
        if last.status is not None:
            hint = (" (rate limit: wait, or lower the request rate)" if last.status == 429
                    else " (the service has a problem: try again later)")
            raise FetchError(f"{self.service} {what} {where}: {last.reason} on all {n} attempts{hint}")
        raise UnreachableError(self.scrub(f"{self.service} not reachable ({what} {where}): {last.reason} on all "
                                          f"{n} attempts; check the network or --api-url"))

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, cache: bool = True, what: str = "request"
                 ) -> tuple[Any, Response]:
        """GET ``url`` and parse its JSON body (cached when ``cache``); errors as in :meth:`request`.

        A body that is not valid JSON is fetched once more, then a :class:`FormatError`.
        """
        key = self.cache_key("GET", url, params)
        if cache:
            hit = self._cache_get(key)
            if hit is not None:
                self.n_cached += 1
                return json.loads(hit.body), hit
        json_retries = min(1, self.max_retries)  # a complete body that is not JSON is rarely transient
        for attempt in range(json_retries + 1):
            resp = self.request("GET", url, params=params, headers=headers, what=what)
            self.raise_for_status(resp, url, params, what)
            try:
                obj = json.loads(resp.body)
                break
            except ValueError as exc:
                if attempt == json_retries:
                    raise FormatError(self.scrub(
                        f"{self.service} {what} {self._where(url, params)}: the response is not JSON ({exc}; "
                        f"first bytes {resp.body[:80]!r}); the service may have changed its format, or a "
                        "proxy answered")) from None
                wait = min(self.backoff * 2 ** attempt, self.max_backoff)
                self.waits.append(wait)
                self.sleep(wait)
        if cache:
            self._cache_put(key, "GET", url, params, resp.body)
        return obj, resp

    def raise_for_status(self, resp: Response, url: str, params: Mapping[str, Any] | None, what: str) -> None:
        """Turn a 4xx response into the matching one-line error (401/403, 404, others)."""
        if resp.status < 400:
            return
        where = self._where(url, params)
        detail = self.scrub(" ".join(resp.text().split())[:200])
        detail = f": {detail}" if detail else ""
        if resp.status in (401, 403):
            raise AuthError(f"{self.service} refused the credentials (HTTP {resp.status}) for {what} {where}"
                            f"{detail}")
        if resp.status == 404:
            raise NotFoundError(f"{self.service} has no {where} (HTTP 404){detail}")
        raise FetchError(f"{self.service} {what} {where}: HTTP {resp.status}{detail}")


# ---------------------------------------------------------------------------------------------
# paged downloads with resume
# ---------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of records and whether more pages follow."""

    records: list[dict[str, Any]]
    last: bool
    total_pages: int | None = None
    total_count: int | None = None


@dataclass
class PagedDownload:
    """All records of a paged download and how it went."""

    records: list[dict[str, Any]]
    pages: int
    resumed_from_page: int | None
    total_count: int | None


def _state_paths(out: Path) -> tuple[Path, Path]:
    base = out.parent / f".{out.name}.partial"
    return Path(str(base) + ".json"), Path(str(base) + ".jsonl")


def download_pages(fetch_page: Callable[[int], Page], *, out: str | Path, request: Mapping[str, Any],
                   first_page: int, progress: Callable[[int, int | None], None] | None = None) -> PagedDownload:
    """Fetch pages ``first_page, first_page + 1, ...`` until a page says it is the last.

    ``request`` identifies the download (URL and parameters, no credentials); the partial state
    beside ``out`` (``.<name>.partial.json`` and ``.partial.jsonl``) is reused only for the same
    request, and removed by :func:`write_output` once the output is complete.
    """
    out = Path(out)
    state_path, rec_path = _state_paths(out)
    ident = json.loads(json.dumps(dict(request), default=str))
    pages: list[list[dict[str, Any]]] = []
    next_page, resumed, total_count = first_page, None, None
    if state_path.exists() and rec_path.exists():
        try:
            st = json.loads(state_path.read_text(encoding="utf-8"))
        except ValueError:
            st = {}
        if st.get("request") == ident:
            n_done = int(st.get("pages_done", 0))
            with open(rec_path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
            if len(lines) >= n_done:
                pages = [json.loads(x) for x in lines[:n_done]]
                next_page = int(st["next_page"])
                total_count = st.get("total_count")
                resumed = next_page if n_done else None
    if resumed is None:
        pages, next_page = [], first_page
        state_path.parent.mkdir(parents=True, exist_ok=True)
        rec_path.write_text("", encoding="utf-8")
    else:
        # drop a page appended after the last state update (killed in between)
        with open(rec_path, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pages)
    total_pages = None
    while True:
        page = fetch_page(next_page)
        total_pages = page.total_pages if page.total_pages is not None else total_pages
        total_count = page.total_count if page.total_count is not None else total_count
        with open(rec_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(page.records, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        pages.append(page.records)
        next_page += 1
        atomic_write_text(state_path, json.dumps({"request": ident, "pages_done": len(pages), "next_page": next_page,
                                                  "total_count": total_count, "total_pages": total_pages}))
        if progress is not None:
            progress(len(pages), total_pages)
        if page.last:
            break
    records = [r for p in pages for r in p]
    return PagedDownload(records, len(pages), resumed, total_count)


# ---------------------------------------------------------------------------------------------
# output and manifest
# ---------------------------------------------------------------------------------------------
@dataclass
class FetchResult:
    """What a download client wrote: the file, its manifest and the counts behind it."""

    service: str
    dataset: str
    out: Path
    manifest: Path
    url: str
    params: dict[str, Any]
    records: int
    pages: int
    sha256: str
    fetched_at: str
    resumed_from_page: int | None = None
    requests: int = 0
    cached_responses: int = 0
    retries: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "dataset": self.dataset, "out": str(self.out),
                "manifest": str(self.manifest), "url": self.url, "params": self.params, "records": self.records,
                "pages": self.pages, "sha256": self.sha256, "fetched_at": self.fetched_at,
                "resumed_from_page": self.resumed_from_page, "requests": self.requests,
                "cached_responses": self.cached_responses, "retries": self.retries, "notes": list(self.notes)}


def write_output(out: str | Path, text: str, *, service: str, dataset: str, url: str, params: Mapping[str, Any],
                 records: int, download: PagedDownload, client: HttpClient,
                 options: Mapping[str, Any] | None = None, notes: Iterable[str] = ()) -> FetchResult:
    """Write ``text`` atomically to ``out``, its manifest beside it, and remove the partial state."""
    from pakcast.forecast.manifest import RunManifest, write_beside

    out = Path(out)
    atomic_write_text(out, text)
    fetched_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    safe_params = redact(params)
    manifest = RunManifest(command=f"fetch {service.lower()}", options={
        "service": service, "dataset": dataset, "url": client.scrub(url), "params": safe_params,
        "fetched_at": fetched_at, "records": int(records), "pages": download.pages,
        "resumed_from_page": download.resumed_from_page, "requests": client.n_requests,
        "cached_responses": client.n_cached, "retries": len(client.waits),
        **{k: v for k, v in (options or {}).items() if k.lower() not in SECRET_PARAMS}})
    manifest.argv = redact_argv(sys.argv)
    manifest.notes = [client.scrub(n) for n in notes]
    mpath = write_beside(manifest, [out])
    for p in _state_paths(out):
        p.unlink(missing_ok=True)
    return FetchResult(service=service, dataset=dataset, out=out, manifest=mpath, url=client.scrub(url),
                       params=safe_params, records=int(records), pages=download.pages, sha256=sha256_file(out),
                       fetched_at=fetched_at, resumed_from_page=download.resumed_from_page,
                       requests=client.n_requests, cached_responses=client.n_cached, retries=len(client.waits),
                       notes=list(manifest.notes))
