"""Tickers as people write them: "BRK.B", "brk-b", "$brk.b", "nvda", "Nvidia", "apple".

Owns recognising symbols and company names in free text and suggesting a known ticker for
a typo. The known set is the bundled sample's tickers (charts, Reddit page, Congress and
insider filings) with their company names; any other upper-case symbol still counts as a
ticker, since live data covers the whole market. Class shares are written "BRK.B" here;
`for_tool` gives each data source the spelling it expects.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

COMPANIES: dict[str, str] = {
    "AAPL": "Apple",
    "AMC": "AMC Entertainment",
    "AMD": "Advanced Micro Devices",
    "AMZN": "Amazon",
    "ARM": "Arm Holdings",
    "ASTS": "AST SpaceMobile",
    "AVGO": "Broadcom",
    "BA": "Boeing",
    "BAC": "Bank of America",
    "BRK.B": "Berkshire Hathaway Class B",
    "CAT": "Caterpillar",
    "COIN": "Coinbase",
    "CRWV": "CoreWeave",
    "CVX": "Chevron",
    "DIS": "Walt Disney",
    "GME": "GameStop",
    "GOOGL": "Alphabet Class A",
    "HIMS": "Hims & Hers Health",
    "HOOD": "Robinhood",
    "INTC": "Intel",
    "IONQ": "IonQ",
    "JNJ": "Johnson & Johnson",
    "JPM": "JPMorgan Chase",
    "LCID": "Lucid Group",
    "LMT": "Lockheed Martin",
    "META": "Meta Platforms",
    "MSFT": "Microsoft",
    "MSTR": "Strategy",
    "MU": "Micron Technology",
    "NBIS": "Nebius Group",
    "NEE": "NextEra Energy",
    "NFLX": "Netflix",
    "NVDA": "NVIDIA",
    "OKLO": "Oklo",
    "PFE": "Pfizer",
    "PG": "Procter & Gamble",
    "PLTR": "Palantir",
    "QQQ": "Invesco QQQ Trust",
    "RDDT": "Reddit",
    "RIVN": "Rivian",
    "RKLB": "Rocket Lab",
    "RTX": "RTX",
    "SMCI": "Super Micro Computer",
    "SMR": "NuScale Power",
    "SOFI": "SoFi Technologies",
    "SPY": "SPDR S&P 500 ETF",
    "TSLA": "Tesla",
    "TSM": "Taiwan Semiconductor",
    "UNH": "UnitedHealth",
    "V": "Visa",
    "VOO": "Vanguard S&P 500 ETF",
    "WFC": "Wells Fargo",
    "XOM": "Exxon Mobil",
}
"""Every ticker in the bundled sample data, with the name people know it by."""

KNOWN = frozenset(COMPANIES)

_NAMES: dict[str, str] = {
    "apple": "AAPL",
    "amc entertainment": "AMC",
    "advanced micro devices": "AMD",
    "amazon": "AMZN",
    "arm holdings": "ARM",
    "ast spacemobile": "ASTS",
    "broadcom": "AVGO",
    "boeing": "BA",
    "bank of america": "BAC",
    "berkshire hathaway": "BRK.B",
    "berkshire": "BRK.B",
    "caterpillar": "CAT",
    "coinbase": "COIN",
    "coreweave": "CRWV",
    "chevron": "CVX",
    "disney": "DIS",
    "walt disney": "DIS",
    "gamestop": "GME",
    "alphabet": "GOOGL",
    "google": "GOOGL",
    "hims & hers": "HIMS",
    "robinhood": "HOOD",
    "intel": "INTC",
    "ionq": "IONQ",
    "johnson & johnson": "JNJ",
    "jpmorgan": "JPM",
    "jp morgan": "JPM",
    "lucid": "LCID",
    "lockheed martin": "LMT",
    "lockheed": "LMT",
    "meta platforms": "META",
    "meta": "META",
    "facebook": "META",
    "microsoft": "MSFT",
    "microstrategy": "MSTR",
    "micron": "MU",
    "nebius": "NBIS",
    "nextera": "NEE",
    "netflix": "NFLX",
    "nvidia": "NVDA",
    "oklo": "OKLO",
    "pfizer": "PFE",
    "procter & gamble": "PG",
    "procter and gamble": "PG",
    "palantir": "PLTR",
    "rivian": "RIVN",
    "rocket lab": "RKLB",
    "super micro": "SMCI",
    "supermicro": "SMCI",
    "nuscale": "SMR",
    "sofi": "SOFI",
    "s&p 500": "SPY",
    "s&p": "SPY",
    "tesla": "TSLA",
    "taiwan semiconductor": "TSM",
    "tsmc": "TSM",
    "unitedhealth": "UNH",
    "visa": "V",
    "vanguard s&p 500": "VOO",
    "wells fargo": "WFC",
    "exxon": "XOM",
    "exxonmobil": "XOM",
    "exxon mobil": "XOM",
}
"""Company names (lower case) people type instead of the ticker."""

_RENAMED = {"FB": "META", "BRK": "BRK.B", "GOOGLE": "GOOGL"}
"""Symbols people still use for a ticker that changed, or a share class they leave out."""

_NOT_TICKERS = frozenset(
    """A I AN AND OR THE ETF ETFS CEO CFO CTO COO USD EUR US USA UK EU OK IPO EPS PE AI IS IT MY ME VS DO
    TO OF IN ON AT BY FOR WSB SEC FMP NYSE API GDP CPI FED FOMC EV YTD TTM EOD ATH IRA LLC INC CO
    HOW WHAT WHO WHY WHEN ANY ALL RSS PM AM ET PT EST UTC Q1 Q2 Q3 Q4 FY H1 H2 FAQ LOL DD YOLO FOMO
    HODL TLDR IMO FYI BTW ASAP OMG THX TY HI HEY BUY SELL HOLD LONG SHORT CALL CALLS PUT PUTS MOON
    NOT NEW TOP DOW ROI ESG REIT NAV DCA IV HSA OTC PTR NO SO UP GO BE WE HE IF AS NOW BIG YES CSV
    PDF URL HELP HELLO THANK WOW NICE COOL GREAT OKAY SURE YEAH YEP NOPE DROP NEWS TODAY PRICE STOCK
    SHARE TRADE CHART SHOW LIST WHICH YOU YOUR PLS PLZ INFO DATA BUT ONLY JUST MORE LESS LAST NEXT
    WEEK MONTH YEAR DAY DAYS SOLD BOUGHT GOOD BAD BEST WORST RISK CASH GAIN LOSS HIGH LOW OPEN""".split()
)
"""Upper-case words that are not tickers in a question, however much they look like one."""

_WORDS_NOT_TICKERS = frozenset("arm hood coin cat dis v ba all now it on a be pg mu".split())
"""Known tickers that are also everyday words: in lower case they are the word."""

_ABBREVIATIONS = frozenset({"U.S", "U.K", "E.U", "E.G", "I.E", "P.M", "A.M", "N.Y"})

_DOLLAR = re.compile(r"\$([A-Za-z]{1,5}(?:[.\-/][A-Za-z]{1,2})?)\b")
_CLASS = re.compile(r"(?<![\w$.])([A-Za-z]{1,5})[.\-/]([A-Za-z])\b(?![.\-/]?\w)")
_WORD = re.compile(r"(?<![\w$.\-/&])([A-Za-z]{1,5})(?:'s)?(?![\w.\-/&]*\w)")
_TYPO_WORD = re.compile(r"\b[a-zA-Z][a-zA-Z&.\-]{2,}\b")


def canonical(symbol: str) -> str:
    """The one spelling Finch uses for a symbol: upper case, class shares with a dot ("BRK.B")."""
    text = symbol.strip().lstrip("$").upper().replace("/", ".").replace("-", ".")
    return _RENAMED.get(text, text)


def same(a: str | None, b: str | None) -> bool:
    """Whether two spellings name the same ticker ("BRK-B" and "BRK.B" do)."""
    return bool(a and b) and canonical(a) == canonical(b)


def for_tool(symbol: str, tool: str) -> str:
    """The spelling a tool's data source expects: Reddit (ApeWisdom) writes "BRK.B", Yahoo and SEC "BRK-B"."""
    if "reddit" in tool:
        return symbol
    return symbol.replace(".", "-")


def name_of(symbol: str) -> str | None:
    """The company name of a known ticker."""
    return COMPANIES.get(canonical(symbol))


def labelled(symbol: str) -> str:
    """ "**NVDA** (NVIDIA)", or just the bold ticker when the name is unknown."""
    name = name_of(symbol)
    return f"**{symbol}** ({name})" if name and name.upper() != symbol else f"**{symbol}**"


@dataclass(frozen=True)
class Mention:
    symbol: str
    at: int
    """Where in the text it was written, to keep the user's order."""


def find(text: str) -> list[str]:
    """The tickers in `text`, in the order written: symbols in any case people use, and company names."""
    return list(dict.fromkeys(m.symbol for m in mentions(text)))


def mentions(text: str) -> list[Mention]:
    """Every place `text` names a ticker, in the order written (a ticker named twice is here twice)."""
    shouting = _is_shouting(text)
    found: list[Mention] = []
    for match in _DOLLAR.finditer(text):
        found.append(Mention(canonical(match.group(1)), match.start()))
    for match in _CLASS.finditer(text):
        symbol = canonical(f"{match.group(1)}.{match.group(2)}")
        written_upper = match.group(0) == match.group(0).upper()
        if symbol in _ABBREVIATIONS:
            continue
        if (written_upper and not shouting) or symbol in KNOWN:
            found.append(Mention(symbol, match.start()))
    for match in _WORD.finditer(text):
        word = match.group(1)
        symbol = canonical(word)
        if word.isupper() and not shouting:
            if word not in _NOT_TICKERS:
                found.append(Mention(symbol, match.start()))
        elif (
            symbol in KNOWN and word.lower() not in _WORDS_NOT_TICKERS and (word.isupper() or len(word) >= 3)
        ):
            found.append(Mention(symbol, match.start()))
    lowered = text.lower()
    claimed: list[range] = []
    for name in sorted(_NAMES, key=len, reverse=True):  # "vanguard s&p 500" before "s&p 500"
        for match in re.finditer(rf"(?<![\w&]){re.escape(name)}(?:'s)?(?![\w&])", lowered):
            if any(match.start() in r or match.end() - 1 in r for r in claimed):
                continue
            claimed.append(range(match.start(), match.end()))
            found.append(Mention(_NAMES[name], match.start()))
    found.sort(key=lambda m: m.at)
    return found


def _is_shouting(text: str) -> bool:
    """All caps (or nearly): then upper-case words are words, and only known tickers count."""
    letters = [c for c in text if c.isalpha()]
    words = re.findall(r"[A-Za-z]{2,}", text)
    return len(words) >= 3 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


def suggest(written: str) -> str | None:
    """The known ticker a typo most likely meant ("APPL" → AAPL, "nvdia" → NVDA), if any is close."""
    word = written.strip().lstrip("$")
    if not word:
        return None
    upper = canonical(word)
    if upper in KNOWN:
        return upper
    close = difflib.get_close_matches(upper, sorted(KNOWN), n=1, cutoff=0.74)
    if close:
        return close[0]
    lowered = word.lower()
    named = difflib.get_close_matches(lowered, sorted(_NAMES), n=1, cutoff=0.8)
    return _NAMES[named[0]] if named else None


def typo_in(text: str) -> tuple[str, str] | None:
    """A word of `text` that looks like a misspelt company or ticker: (as written, the ticker meant)."""
    for match in _TYPO_WORD.finditer(text):
        word = match.group(0)
        lowered = word.lower()
        if len(word) < 4 or lowered in _COMMON_WORDS:
            continue
        named = difflib.get_close_matches(lowered, sorted(_NAMES), n=1, cutoff=0.8)
        if named:
            return word, _NAMES[named[0]]
        if word.isupper():
            close = difflib.get_close_matches(word, sorted(KNOWN), n=1, cutoff=0.74)
            if close:
                return word, close[0]
    return None


_COMMON_WORDS = frozenset(
    """about above after again apply apples cheat chart charts close doing drop dropped down each else from
    have here into just last like list make many meet metal meter metro more most much need news
    only over past price rather said same sell shares should show some stock stocks such take than
    that them then there these they this those trade trades trend very want were what when where
    which while will with would your insider insiders portfolio holdings senate house reddit
    trending market markets chase micro visit visas vista giant media metals being scale inter sofa""".split()
)
"""Words close to a company name that are not typos of it ("apply" is not "apple")."""
