"""``pakcast fetch ucdp`` and ``pakcast fetch acled``: download fresh events (thin: parse, call, print).

The clients live in :mod:`forecast.fetch`; credentials come from the options or the environment
(``UCDP_TOKEN``; ``ACLED_EMAIL`` + ``ACLED_PASSWORD``, or ``ACLED_EMAIL`` + ``ACLED_KEY`` for the
older key access) and never reach the manifest, the cache or a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from pakcast.forecast._cli_app import app, choices

console = Console()
say = Console(soft_wrap=True, highlight=False)  # messages: never wrapped (paths stay whole)

fetch_app = typer.Typer(help="Download fresh events from the UCDP and ACLED APIs (network; credentials "
                             "from options or environment variables).", no_args_is_help=True)
app.add_typer(fetch_app, name="fetch")


Dataset = choices("Dataset", "ged", "candidate")  # forecast.fetch.ucdp.DATASETS

# the HTTP client's options, the same in every fetch command
CACHE_DIR = typer.Option(None, "--cache-dir", help="Response cache (default $PAKCAST_HTTP_CACHE or the user cache dir).")
NO_CACHE = typer.Option(False, "--no-cache", help="Do not read or write the response cache.")
RETRIES = typer.Option(5, "--retries", help="Retries on 429, 5xx and network failures.")
TIMEOUT = typer.Option(60.0, "--timeout", help="Seconds to wait for the server.")


def _fetch(service: str, fetch, out: Path, cache_dir: Optional[Path], no_cache: bool, retries: int, timeout: float,
           cache_ttl: Optional[float] = None, **options) -> None:
    """Run one client's ``fetch(out, client=..., **options)`` and print what it wrote (an error: one line,
    by the command line's error handler)."""
    from pakcast.forecast.fetch.http import HttpClient, default_cache_dir

    cache = None if no_cache else (cache_dir or default_cache_dir())
    client = HttpClient(service, cache_dir=cache, cache_ttl=cache_ttl, max_retries=retries, timeout=timeout)
    _print(fetch(out, client=client, **options))


def _print(res) -> None:
    resumed = f", resumed at page {res.resumed_from_page}" if res.resumed_from_page is not None else ""
    say.print(f"wrote {res.out}: {res.records:,} {res.service} {res.dataset} records from {res.pages} page(s)"
                  f"{resumed} ({res.requests} request(s), {res.cached_responses} from the cache, "
                  f"{res.retries} retried); manifest {res.manifest.name}; sha256 {res.sha256[:12]}")
    for n in res.notes:
        say.print(f"[yellow]note:[/] {escape(n)}")
    src = res.service.lower()
    say.print(f"next: pakcast ingest {res.out} --source {src} --replace")


@fetch_app.command("ucdp")
def fetch_ucdp_cmd(
    out: Path = typer.Option(..., "--out", help="CSV to write (the official GED CSV schema)."),
    dataset: Dataset = typer.Option("candidate", "--dataset", help="ged (yearly release YY.1) or candidate (monthly YY.0.M)."),
    version: str = typer.Option(..., "--version", help="Release, e.g. 25.1 (GED) or 25.0.9 (Candidate)."),
    since: Optional[str] = typer.Option(None, "--since", help="First event date kept by the API (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last event date kept by the API (YYYY-MM-DD)."),
    api_url: Optional[str] = typer.Option(None, "--api-url", help="API root (default $PAKCAST_UCDP_API_URL or https://ucdpapi.pcr.uu.se/api)."),
    token: Optional[str] = typer.Option(None, "--token", help="API token (default $UCDP_TOKEN)."),
    country: int = typer.Option(770, "--country", help="Gleditsch-Ward country code (770 = Pakistan)."),
    cache_dir: Optional[Path] = CACHE_DIR,
    no_cache: bool = NO_CACHE,
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
) -> None:
    """Download UCDP GED or Candidate events for one country through the UCDP API."""
    from pakcast.forecast.fetch.ucdp import fetch_ucdp

    _fetch("UCDP", fetch_ucdp, out, cache_dir, no_cache, retries, timeout, dataset=dataset.value, version=version,
           since=since, until=until, token=token, api_url=api_url, country=country)


@fetch_app.command("acled")
def fetch_acled_cmd(
    out: Path = typer.Option(..., "--out", help="CSV to write (ACLED export columns)."),
    since: Optional[str] = typer.Option(None, "--since", help="First event date (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last event date (YYYY-MM-DD; default today)."),
    api_url: Optional[str] = typer.Option(None, "--api-url", help="API root (default $PAKCAST_ACLED_API_URL or https://acleddata.com)."),
    email: Optional[str] = typer.Option(None, "--email", help="myACLED account email (default $ACLED_EMAIL)."),
    password: Optional[str] = typer.Option(None, "--password", help="myACLED password (default $ACLED_PASSWORD): OAuth access."),
    key: Optional[str] = typer.Option(None, "--key", help="Older access key (default $ACLED_KEY), used without a password."),
    country: str = typer.Option("Pakistan", "--country", help="ACLED country name."),
    cache_dir: Optional[Path] = CACHE_DIR,
    no_cache: bool = NO_CACHE,
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
) -> None:
    """Download ACLED events for one country through the ACLED API (cached responses kept 24 hours)."""
    from pakcast.forecast.fetch.acled import fetch_acled

    _fetch("ACLED", fetch_acled, out, cache_dir, no_cache, retries, timeout, cache_ttl=24 * 3600, since=since,
           until=until, email=email, password=password, key=key, api_url=api_url, country=country)
