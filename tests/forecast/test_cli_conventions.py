"""One command line: shared option names, choices in --help, --version, one error handler, exit codes."""

from __future__ import annotations

import errno

import pytest
from typer.testing import CliRunner

from pakcast.forecast._cli_app import DEFAULT_SEED, describe_error
from pakcast.forecast.cli import app
from pakcast.forecast.errors import EXIT_CODES, GateError, InputError

runner = CliRunner()

RANDOM = [["hawkes"], ["breaks"], ["its"], ["attribute"], ["backtest"], ["quarterly"], ["report"],
          ["bayes", "its"], ["bayes", "changepoint"], ["fuse"]]


def _help(*cmd: str) -> str:
    r = runner.invoke(app, [*cmd, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    return r.output


def test_version():
    from pakcast import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"pakcast {__version__}"


@pytest.mark.parametrize("cmd", RANDOM, ids=" ".join)
def test_every_command_with_randomness_takes_random_seed_with_one_default(cmd):
    text = _help(*cmd)
    assert "--random-seed" in text and f"[default: {DEFAULT_SEED}]" in " ".join(text.split())
    assert "--seed " not in text  # the old spelling is a hidden alias
    assert "<bool>" not in text
    assert "Exit codes: 0 success" in " ".join(text.split())


def test_intervention_is_the_name_for_known_dates():
    for cmd in (["its"], ["breaks"], ["bayes", "its"], ["bayes", "changepoint"], ["attribute"]):
        assert "--intervention" in _help(*cmd), cmd
    assert "--dates" not in _help("breaks") and "--breaks" not in _help("bayes", "its")


def test_fixed_choices_are_shown_in_help():
    assert "<l2|poisson|negbin>" in _help("breaks")
    assert "<nutpie|pymc>" in _help("bayes", "its")
    assert "<merge|separate>" in _help("hawkes")
    assert "<level|level+slope>" in _help("its")
    assert "<ucdp|gtd|acled|csv|reported>" in _help("ingest") and "<raise|report>" in _help("ingest")
    assert "<day|week|month|quarter|year>" in _help("panel")
    assert "<ged|candidate>" in _help("fetch", "ucdp")
    assert "<month|quarter|half|year|ytd>" in _help("reported", "add")
    assert "<ucdp|fused|fused-mean>" in _help("attribute")


def test_one_name_for_value_column_and_province():
    for cmd in (["breaks"], ["its"], ["bayes", "changepoint"]):
        assert "--column" in _help(*cmd) and "--series" in _help(*cmd)
    h = _help("hawkes")
    assert "--series" in h and "--province" not in h and "--date-col" in h and "--time-col" not in h


def test_exit_codes_are_documented_and_mapped():
    text = " ".join(_help().split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in text
    assert describe_error(InputError("bad row 3")) == ("bad row 3", 1)
    assert describe_error(GateError("unconverged"))[1] == 3
    assert describe_error(FileNotFoundError(2, "No such file", "x.csv"))[0] == "file not found: x.csv"
    assert describe_error(OSError(errno.ENOSPC, "No space left", "out.json"))[0].startswith("no space left")
    assert describe_error(PermissionError(13, "denied", "/root/x"))[0] == "permission denied: /root/x"
    assert describe_error(MemoryError())[0].startswith("out of memory")
    assert "--encoding" in describe_error(LookupError("unknown encoding: klingon"))[0]
    assert "--encoding" in describe_error(UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"))[0]
    assert describe_error(KeyError("a bug")) is None and describe_error(ZeroDivisionError()) is None


def test_user_error_is_one_line_on_stderr_without_traceback(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("t,n\n1,2\n2,3\n", encoding="utf-8")
    r = runner.invoke(app, ["its", "--csv", str(csv), "--column", "n"])
    assert r.exit_code == 1
    assert r.stderr.strip() == "error: --intervention DATE is required (repeatable): no dates are assumed"
    assert "Traceback" not in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a\n1\n2,3,4\n", encoding="utf-8")
    r = runner.invoke(app, ["hawkes", "--csv", str(bad)])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "bad.csv" in r.stderr and "Traceback" not in r.output


def test_old_option_names_still_work(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("year,flow\n" + "".join(f"{1870 + i},{100 + (i > 20) * 50 + i % 3}\n" for i in range(40)),
                   encoding="utf-8")
    out = tmp_path / "b.json"
    r = runner.invoke(app, ["breaks", "--csv", str(csv), "--column", "flow", "--date-col", "year", "--dates",
                            "1891", "--seed", "3", "--max-breaks", "1", "--json", str(out)])
    assert r.exit_code == 0, r.output
    import json

    d = json.loads(out.read_text())
    assert [k["date"] for k in d["known"]][:1] == ["1891"] and (tmp_path / "b.manifest.json").is_file()
    assert json.loads((tmp_path / "b.manifest.json").read_text())["random_seeds"] == {"seed": 3}


def test_json_is_optional_the_summary_is_printed(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("year,flow\n" + "".join(f"{1870 + i},{100 + (i > 20) * 50 + i % 3}\n" for i in range(40)),
                   encoding="utf-8")
    r = runner.invoke(app, ["breaks", "--csv", str(csv), "--column", "flow", "--date-col", "year",
                            "--max-breaks", "1"])
    assert r.exit_code == 0, r.output
    assert "sup-F" in r.stdout and "wrote" not in r.stdout and not list(tmp_path.glob("*.json"))


#: every command that reads a CSV the user gives, and the option (or argument) naming it
READS_CSV = {("breaks",): "csv", ("its",): "csv", ("ingest",): "path", ("panel",): "input", ("describe",): "input",
             ("hawkes",): "csv", ("quarterly",): "input", ("backtest",): "input", ("bayes", "changepoint"): "csv",
             ("reported", "add"): "file", ("reported", "list"): "file", ("fuse",): "events"}
FILE_PARAMS = {"csv", "input", "path", "file", "events", "reported"}


def _commands() -> dict[tuple[str, ...], object]:
    import typer.main

    out: dict[tuple[str, ...], object] = {}

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for n, c in cmd.commands.items():
                walk(c, (*path, n))
        else:
            out[path] = cmd

    walk(typer.main.get_command(app), ())
    return out


def test_every_command_reading_a_csv_is_listed():
    """A new command with an input file option joins READS_CSV (and so must take --encoding)."""
    found = {path for path, cmd in _commands().items() if FILE_PARAMS & {p.name for p in cmd.params}}
    assert found == set(READS_CSV), found ^ set(READS_CSV)


@pytest.mark.parametrize("cmd", list(READS_CSV), ids=" ".join)
def test_every_command_reading_a_csv_takes_encoding(cmd):
    c = _commands()[cmd]
    assert READS_CSV[cmd] in {p.name for p in c.params}
    enc = [p for p in c.params if "--encoding" in p.opts]
    assert enc and enc[0].default == "utf-8", f"pakcast {' '.join(cmd)} has no --encoding"
