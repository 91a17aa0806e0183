"""Jinja2 templates for pakcast briefings (installed as the package ``pakcast.templates``)."""
