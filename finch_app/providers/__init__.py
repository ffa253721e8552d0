"""Where the tools' data comes from, behind the small protocols of `base.py`.

`market.py` serves market data live (`live.py`, `sec.py` over `http.py`), from its cache
(`cache.py`) or from the bundled samples (`sample.py`), always saying which; `portfolio.py`
keeps the user's holdings and `brokerage/` links a brokerage through SnapTrade.
"""
