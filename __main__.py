"""``python -m pakcast``: the command-line interface."""

from pakcast.forecast.cli import main

main()
