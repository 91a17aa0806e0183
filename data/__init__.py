"""Derived tables shipped with pakcast (installed as the package ``pakcast.data``).

Every file here is an aggregate derived from third-party raw data by ``pakcast data build``;
``SOURCES.md`` carries the citations the licences require. No raw file is copied here.
"""
