"""Seeded, synthetic input data for the bash lab: World Cup players, a web log, test images.

Every name, club, host and URL is made up from syllables; nothing is copied from real data.
Run ``python -m stackeval.coding.datagen DIR`` to write the files for a look.
"""

from __future__ import annotations

import functools
import random
import sys
from pathlib import Path

WORLDCUP_FILE = "worldcupplayerinfo.tsv"
WEBLOG_FILE = "web_log.tsv"
WORLDCUP_COLUMNS = (
    "Group",
    "Country",
    "Rank",
    "Jersey",
    "Position",
    "Age",
    "Selections",
    "Club",
    "Player",
    "Captain",
)
WEBLOG_COLUMNS = (
    "host",
    "logname",
    "time",
    "method",
    "url",
    "response",
    "bytes",
    "referer",
    "useragent",
)
POSITIONS = ("Goalie", "Defender", "Midfielder", "Forward")

_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "dor",
    "sa",
    "tel",
    "bru",
    "no",
    "fi",
    "gar",
    "zu",
    "mel",
    "ta",
    "rin",
    "os",
    "ba",
    "quel",
    "har",
    "di",
    "pe",
    "lon",
    "vi",
    "sko",
    "er",
    "an",
    "tu",
    "mar",
    "co",
    "lis",
    "jo",
    "hel",
    "gu",
    "ne",
    "wal",
)


def _word(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(low, high))).capitalize()


_ACCENTS = {"a": "áã", "e": "éè", "i": "í", "o": "ôöó", "u": "üú", "n": "ñ", "c": "ç"}


def _accent(rng: random.Random, word: str, count: int = 1) -> str:
    """``word`` with ``count`` of its letters accented ("Ozil" -> "Özil"), as far as it has any."""
    spots = [i for i, ch in enumerate(word) if ch.lower() in _ACCENTS]
    for i in rng.sample(spots, min(count, len(spots))):
        new = rng.choice(_ACCENTS[word[i].lower()])
        word = word[:i] + (new.upper() if word[i].isupper() else new) + word[i + 1 :]
    return word


def _unique(rng: random.Random, make: object, count: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(make(rng), None)  # type: ignore[operator]
    return list(seen)


def _player_name(rng: random.Random) -> str:
    """ "First Last", sometimes a middle name, sometimes one longer name (as some players use);
    about one word in six carries an accent."""
    kind = rng.random()
    if kind < 0.08:
        words = [_word(rng, 3, 4)]
    else:
        words = [_word(rng, 1, 2)] + ([_word(rng, 1, 2)] if kind > 0.85 else [])
        words.append(_word(rng, 1, 3))
    return " ".join(_accent(rng, w) if rng.random() < 0.17 else w for w in words)


def _name_of_length(rng: random.Random, length: int, accents: int, taken: set[str]) -> str:
    """A made-up "First Last" (or, when short, one-word) name of exactly ``length`` characters."""
    while True:
        if length <= 4:
            name = (rng.choice(_SYLLABLES) * 3)[:length].capitalize()
        else:
            first = rng.randint(2, length - 3)
            name = " ".join(
                (_word(rng, n, n) * 3)[:n].capitalize() for n in (first, length - first - 1)
            )
        name = _accent(rng, name, accents)
        if name not in taken and sum(ch.isascii() for ch in name) == length - accents:
            return name


# Alias of an English position in the real file ("Défenseur" once among the Defenders).
FOREIGN_POSITIONS = {"Défenseur": "Defender", "Gardien": "Goalie", "Milieu": "Midfielder",
                     "Attaquant": "Forward"}


@functools.cache
def worldcup_rows(seed: int = 2014) -> tuple[tuple[str, ...], ...]:
    """736 players (32 teams of 23) with the columns of ``WORLDCUP_COLUMNS``, header excluded.

    The data has the course file's untidy traits: UTF-8 names with accents (two-character names
    such as "Kô" among them), blanks after some names, players sharing a name, one position in
    French ("Défenseur"), and ties for the longest and shortest name and the oldest and youngest
    player. :func:`worldcup_tsv` adds the two empty columns at the end of every line.
    """
    rng = random.Random(seed)
    countries = _unique(rng, lambda r: _word(r, 2, 3) + r.choice(("ia", "land", "stan", "ora")), 32)
    clubs = _unique(
        rng,
        lambda r: f"{r.choice(('FC', 'Real', 'Sporting', 'Athletic', 'United'))} {_word(r, 2, 3)}",
        150,
    )
    names = _unique(rng, _player_name, 32 * 23)
    ranks = rng.sample(range(1, 80), 32)
    rows = []
    for team, country in enumerate(countries):
        defenders, forwards = rng.randint(7, 9), rng.randint(4, 6)
        positions = ["Goalie"] * 3 + ["Defender"] * defenders + ["Forward"] * forwards
        positions += ["Midfielder"] * (23 - len(positions))
        jerseys = rng.sample(range(1, 24), 23)
        captain = rng.randrange(23)
        for i, position in enumerate(positions):
            age = round(rng.gauss(27, 4))
            while not 18 <= age <= 39:  # redraw instead of clamping: no pile-up at the bounds
                age = round(rng.gauss(27, 4))
            selections = max(0, round((age - 18) * rng.uniform(1.0, 6.0)))
            rows.append(
                [
                    "ABCDEFGH"[team // 4],
                    country,
                    str(ranks[team]),
                    str(jerseys[i]),
                    position,
                    str(age),
                    str(selections),
                    rng.choice(clubs),
                    names[team * 23 + i],
                    "1" if i == captain else "0",
                ]
            )
    _plant_traits(rng, rows)
    return tuple(tuple(row) for row in rows)


def _plant_traits(rng: random.Random, rows: list[list[str]]) -> None:
    """Ties, traps and untidiness a careful script must handle, at random places in the file."""
    taken = {row[8] for row in rows}
    spots = iter(rng.sample(range(len(rows)), 80))
    used: set[int] = set()
    longest = max(len(name) for name in taken) + 2

    def rename(name: str) -> int:
        at = next(spots)
        used.add(at)
        rows[at][8] = name
        taken.add(name.strip())
        return at

    # longest: a tie of an ASCII name and an accented one of as many characters (more bytes),
    # and a name one character shorter whose trailing blanks make it look longest
    for accents in (0, 3):
        rename(_name_of_length(rng, longest, accents, taken))
    rename(_name_of_length(rng, longest - 1, 1, taken) + "  ")
    # shortest: two characters, ASCII or not, one of them with a trailing blank
    for accents, blank in ((0, ""), (1, ""), (1, " ")):
        rename(_name_of_length(rng, 2, accents, taken) + blank)
    # more blanks after names, as in the course's file
    for _ in range(12):
        at = next(spots)
        used.add(at)
        rows[at][8] += " "
    # oldest (41) and youngest (17): ties of two and three; one of the oldest shares his name
    # with a young player further down the file (a table keyed by name loses him)
    oldest = [next(spots) for _ in range(2)]
    youngest = [next(spots) for _ in range(3)]
    used.update(oldest + youngest)
    for at in oldest:
        rows[at][5], rows[at][6] = "41", str(rng.randint(60, 140))
    for at in youngest:
        rows[at][5], rows[at][6] = "17", str(rng.randint(0, 3))
    first = min(oldest)
    twin = max(i for i in range(first, len(rows)) if i not in used and rows[i][5] in {"22", "23"})
    used.add(twin)
    rows[twin][8] = rows[first][8].strip()
    # two more pairs of namesakes in different teams
    for _ in range(2):
        a, b = next(spots), next(spots)
        used.update((a, b))
        rows[b][8] = rows[a][8]
    # one Defender with his position in French
    defender = next(i for i in spots if rows[i][4] == "Defender")
    rows[defender][4] = "Défenseur"


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


@functools.cache
def weblog_rows(seed: int = 1995, lines: int = 5000) -> tuple[tuple[str, ...], ...]:
    """An access log with the columns of ``WEBLOG_COLUMNS``, header excluded.

    Like the course's NASA log: hosts are names or IPv4 addresses, and some names start with
    digits ("3cust41.tnt2.…", even a whole address: "192.0.2.183.dyn.…", a frequent one);
    bytes is "-" when no body was sent; some URLs have query strings with commas or a "~".
    """
    rng = random.Random(seed)
    isps = _unique(rng, lambda r: _word(r, 2, 3).lower() + r.choice(("net", "link", "com", "")), 40)
    names = _unique(
        rng,
        lambda r: (
            f"{r.choice(('pm', 'dial', 'ppp', 'ws', 'host'))}{r.randint(1, 99)}"
            f".{r.choice(isps)}.{r.choice(('com', 'net', 'edu', 'org'))}"
        ),
        520,
    )
    # documentation ranges (RFC 5737): realistic-looking, never anyone's real address
    ips = _unique(
        rng,
        lambda r: f"{r.choice(('192.0.2', '198.51.100', '203.0.113'))}.{r.randint(1, 254)}",
        380,
    )
    digits_first = _unique(
        rng,
        lambda r: (
            f"{r.randint(1, 9)}cust{r.randint(2, 250)}.tnt{r.randint(1, 9)}.{r.choice(isps)}.net"
        ),
        12,
    ) + _unique(rng, lambda r: f"{r.choice(ips)}.dyn.{r.choice(isps)}.com", 4)
    hosts = names + ips + digits_first[1:-1]
    rng.shuffle(hosts)
    hosts[2:2] = digits_first[-1:]  # frequent enough for any top list
    hosts[7:7] = digits_first[:1]
    dirs = ("/images/", "/docs/", "/news/", "/software/", "/history/", "/people/", "/shop/")
    exts = (".html", ".gif", ".jpg", ".txt", ".html", ".gif")
    pages = _unique(rng, lambda r: r.choice(dirs) + _word(r, 1, 3).lower() + r.choice(exts), 290)
    pages += _unique(
        rng,
        lambda r: r.choice(
            (
                f"/cgi-bin/imagemap/{_word(r, 1, 2).lower()}"
                f"?{r.randint(1, 400)},{r.randint(1, 300)}",
                f"/~{_word(r, 1, 2).lower()}/{_word(r, 1, 2).lower()}.html",
            )
        ),
        10,
    )
    rng.shuffle(pages)
    urls = ["/", "/index.html", *pages]
    urls[5:5] = [next(u for u in pages if "?" in u)]
    missing = _unique(
        rng, lambda r: r.choice(dirs) + _word(r, 2, 3).lower() + "-old" + r.choice(exts), 40
    )
    sizes = {url: rng.randint(200, 90_000) for url in urls}
    agents = ("-", "Mosaic/2.0 (X11; Linux)", "Lynx/2.4 libwww/2.14", "Netscape/1.1 (Win16)")
    host_weights, url_weights = _zipf_weights(len(hosts), 1.05), _zipf_weights(len(urls), 1.1)
    codes, code_weights = (
        ("200", "304", "302", "404", "403", "400", "500", "501"),
        (85, 7, 2.5, 4, 0.8, 0.3, 0.3, 0.1),
    )
    time = 804571200
    rows = []
    for _ in range(lines):
        time += round(rng.expovariate(1 / 17))
        host = rng.choices(hosts, host_weights)[0]
        code = rng.choices(codes, code_weights)[0]
        url = (
            rng.choice(missing)
            if code == "404" and rng.random() < 0.7
            else rng.choices(urls, url_weights)[0]
        )
        method = rng.choices(("GET", "HEAD", "POST"), (97, 2, 1))[0]
        size = str(sizes.get(url, 0)) if code == "200" and method != "HEAD" else "-"
        rows.append((host, "-", str(time), method, url, code, size, "-", rng.choice(agents)))
    return tuple(rows)


def to_tsv(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...], extra: int = 0) -> str:
    """Rows as a TSV text with a header line, each line with ``extra`` empty columns at its end."""
    end = "\t" * extra + "\n"
    return "".join("\t".join(row) + end for row in (columns, *rows))


def worldcup_tsv(seed: int = 2014) -> str:
    """The World Cup player file as UTF-8 TSV text, with two empty columns after the last one."""
    return to_tsv(WORLDCUP_COLUMNS, worldcup_rows(seed), extra=2)


def weblog_tsv(seed: int = 1995, lines: int = 5000) -> str:
    """The access log as TSV text."""
    return to_tsv(WEBLOG_COLUMNS, weblog_rows(seed, lines))


# the images IMAGE_SETUP builds: name -> (width, height); small, so each check stays fast
IMAGES: dict[str, tuple[int, int]] = {
    "photo1.jpg": (400, 300),
    "photo2.jpeg": (300, 450),
    "icon.png": (240, 160),
    "small.png": (80, 60),
    "logo.svg": (200, 150),
}

IMAGE_SETUP = """\
#!/bin/bash
# builds the bash lab's input images (deterministic: gradients and shapes, no noise)
set -eu
mkdir -p in
convert -size 400x300 gradient:navy-orange -quality 92 in/photo1.jpg
convert -size 300x450 gradient:darkgreen-khaki -fill maroon -draw 'rectangle 50,50 150,200' \
  -quality 92 in/photo2.jpeg
convert -size 240x160 xc:skyblue -fill crimson -draw 'circle 120,80 120,130' in/icon.png
convert -size 80x60 xc:none -fill teal -draw 'roundrectangle 5,5 75,55 6,6' in/small.png
cat > in/logo.svg <<'SVG'
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150" viewBox="0 0 200 150">
  <rect width="200" height="150" fill="#2a6f97"/>
  <circle cx="100" cy="75" r="50" fill="#f4d35e"/>
</svg>
SVG
"""


def main(argv: list[str]) -> int:
    """Write the generated data files into the directory given on the command line."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m stackeval.coding.datagen DIR\n")
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / WORLDCUP_FILE).write_text(worldcup_tsv(), encoding="utf-8")
    (out / WEBLOG_FILE).write_text(weblog_tsv(), encoding="utf-8")
    (out / "make_images.sh").write_text(IMAGE_SETUP)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
