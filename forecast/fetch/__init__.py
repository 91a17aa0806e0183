"""Download clients: fresh events from the services' own APIs, written in the schemas the readers take.

* :mod:`forecast.fetch.http`: the one HTTP client every service uses (retries with exponential
  backoff on 429 and 5xx honouring ``Retry-After``, timeouts, a response cache keyed by the request
  without credentials, resumable paged downloads, atomic output and a manifest beside it);
* :mod:`forecast.fetch.ucdp`: UCDP GED and Candidate events (``gedevents/<version>``) -> the official
  GED CSV that ``pakcast ingest --source ucdp`` reads;
* :mod:`forecast.fetch.acled`: ACLED events (``/api/acled/read``, OAuth token) -> the ACLED export
  columns that ``pakcast ingest --source acled`` reads.

Credentials come from options or environment variables and are never written to manifests, caches,
logs or error messages.
"""

from __future__ import annotations

from pakcast.forecast.fetch.http import (AuthError, FetchError, FetchResult, FormatError, HttpClient,
                                         NotFoundError, UnreachableError)

__all__ = ["HttpClient", "FetchResult", "FetchError", "AuthError", "NotFoundError", "FormatError",
           "UnreachableError"]
