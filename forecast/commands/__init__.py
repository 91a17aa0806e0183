"""CLI command modules; each registers its commands on :mod:`forecast._cli_app`'s apps.

| module        | commands                                   |
|---------------|--------------------------------------------|
| data.py       | ingest, panel, describe, data build        |
| hawkes.py     | hawkes                                     |
| breaks.py     | breaks, its                                |
| bayes.py      | bayes its, bayes changepoint               |
| quarterly.py  | quarterly, backtest                        |
| attribute.py  | attribute                                  |
| report.py     | report                                     |
| reliability.py| rerun                                      |
| fetch.py      | fetch ucdp, fetch acled                    |
| reported.py   | reported add, reported list                |
"""
