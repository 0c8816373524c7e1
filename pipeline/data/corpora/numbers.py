"""`numbers`: cardinal numbers verbalized by num2words in two languages, with gold word alignments.

Alignment: both sides are built block by block — per scale group (units, thousands, millions, billions; 만/억
for Korean) and, where a language's group words are space-separated, within the group its hundreds, tens-units
and scale word. Each block is verbalized alone with num2words and located in the whole verbalization (French
plural agreement "cents"/"vingts"/"millions" is matched up to a final "s"; English "and"/"," between blocks are
fillers). Blocks link when their digit positions meet and their roles agree ("group" blocks — coarse languages
like Korean — agree with every role); a block the other language elides ("one" of "one thousand" → "mille")
links to that side's scale word. A number that cannot be located raises: nothing is dropped silently.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from num2words import num2words

from models.validation import Count, Int, NonNegInt
from pipeline.core.errors import UserError
from pipeline.core.schema import Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import with_ids

PUNCT = frozenset({"-", ","})


@dataclass(frozen=True)
class Lang:
    """How a language groups digits: `group` digits per scale word; `fine` splits a group into sub-blocks."""

    group: int
    fine: bool
    fillers: frozenset[str] = frozenset()  # words the whole number adds between blocks


LANGS = {
    "en": Lang(group=3, fine=True, fillers=frozenset({"and"})),
    "fr": Lang(group=3, fine=True),
    "ko": Lang(group=4, fine=False),  # 만/억 groups; a group's words are not space-separated: block level
}


@dataclass(frozen=True)
class Block:
    """Expected words of one block, the digit positions it expresses and its role."""

    words: list[str]
    digits: frozenset[int]
    role: str  # hundreds | tens | scale | group


class AlignmentError(UserError):
    """A number's verbalization could not be split into blocks."""


def split_words(text: str) -> list[str]:
    """Whitespace words with hyphens and commas split off as their own tokens."""
    return re.findall(r"[^\s,-]+|[,-]", text)


def same_word(a: str, b: str) -> bool:
    """Equal up to a plural final "s" (French "cents"/"cent", "millions"/"million")."""
    return a == b or a + "s" == b or b + "s" == a


@functools.cache
def group_blocks(value: int, g: int, code: str) -> tuple[Block, ...]:
    """Blocks of group `g` holding `value` (0 < value < base): verbalized as value * base**g alone."""
    lang = LANGS[code]
    words = split_words(num2words(value * 10 ** (lang.group * g), lang=code))
    lo = lang.group * g
    if not lang.fine:
        return (Block(words, frozenset(range(lo, lo + lang.group)), "group"),)
    scale = [Block(words[-1:], frozenset(range(lo, lo + 3)), "scale")] if g else []
    mult = words[:-1] if g else words  # empty when the language elides "one" ("mille", not "un mille")
    hundreds = split_words(num2words(value // 100 * 100, lang=code)) if value >= 100 else []
    n = len(hundreds)
    if mult and (len(mult) < n or not all(map(same_word, hundreds, mult[:n]))):
        raise AlignmentError(f"{code}: {value * 10 ** (lo)}: hundreds {hundreds} not at the start of {mult}")
    parts = [Block(mult[:n], frozenset({lo + 2}), "hundreds"), Block(mult[n:], frozenset({lo, lo + 1}), "tens")]
    return tuple([b for b in parts if b.words] + scale)


def number_blocks(number: int, code: str) -> list[Block]:
    """All blocks of `number`, highest group first."""
    if code not in LANGS:
        raise AlignmentError(f"numbers: no group rules for language {code!r}; known: {', '.join(sorted(LANGS))}")
    base = 10 ** LANGS[code].group
    groups = []
    g = 0
    while number:
        number, value = divmod(number, base)
        if value:
            groups.append(group_blocks(value, g, code))
        g += 1
    return [b for blocks in reversed(groups) for b in blocks]


def locate(words: list[str], blocks: list[Block], fillers: frozenset[str]) -> list[list[int]]:
    """Word indices of each block in the whole verbalization; a filler word joins the next block."""
    spans, pos = [], 0
    for block in blocks:
        span = []
        while pos < len(words) and (words[pos] in fillers or words[pos] in PUNCT) and words[pos] != block.words[0]:
            span += [pos] if words[pos] in fillers else []
            pos += 1
        for w in block.words:
            if pos >= len(words) or not same_word(w, words[pos]):
                raise AlignmentError(f"block {block.words} not found at word {pos} of {words}")
            span.append(pos)
            pos += 1
        spans.append(span)
    if any(w not in PUNCT and w not in fillers for w in words[pos:]):
        raise AlignmentError(f"words {words[pos:]} left over after all blocks")
    return spans


def linked(a: Block, b: Block) -> bool:
    """Blocks express the same digits in the same role (a coarse "group" block matches any role)."""
    return bool(a.digits & b.digits) and (a.role == b.role or "group" in (a.role, b.role))


def block_pairs(src: list[Block], tgt: list[Block]) -> list[tuple[int, int]]:
    """Linked block index pairs; a block left without a partner because the other language elides it
    ("one thousand" → "mille") links to the other side's scale word of its group."""
    pairs = [(a, b) for a in range(len(src)) for b in range(len(tgt)) if linked(src[a], tgt[b])]
    lone_src = set(range(len(src))) - {a for a, _ in pairs}
    lone_tgt = set(range(len(tgt))) - {b for _, b in pairs}
    pairs += [(a, b) for a in lone_src for b, y in enumerate(tgt) if y.role == "scale" and src[a].digits & y.digits]
    pairs += [(a, b) for b in lone_tgt for a, x in enumerate(src) if x.role == "scale" and tgt[b].digits & x.digits]
    return pairs


def block_links(src: list[Block], tgt: list[Block], src_spans, tgt_spans, src_words, tgt_words):
    """(sure, possible) links: every content word of two linked blocks; sure when a side has one word."""
    sure, possible = set(), set()
    for a, b in block_pairs(src, tgt):
        si = [i for i in src_spans[a] if src_words[i] not in PUNCT]
        ti = [j for j in tgt_spans[b] if tgt_words[j] not in PUNCT]
        pairs = {(i, j) for i in si for j in ti}
        possible |= pairs
        sure |= pairs if min(len(si), len(ti)) == 1 else set()
    return sorted(map(list, sure)), sorted(map(list, possible))


def number_record(number: int, src_lang: str, tgt_lang: str, src_text: str | None = None) -> Record:
    """The aligned record of one number (`src_text`: its source verbalization, when already made)."""
    sides = []
    for code, text in ((src_lang, src_text), (tgt_lang, None)):
        text = text or num2words(number, lang=code)
        words, blocks = split_words(text), number_blocks(number, code)
        try:
            spans = locate(words, blocks, LANGS[code].fillers)
        except AlignmentError as e:
            raise AlignmentError(f"numbers: cannot align {number} ({code}): {e}") from None
        sides.append((text, words, blocks, spans))
    (st, sw, sb, ss), (tt, tw, tb, ts) = sides
    sure, possible = block_links(sb, tb, ss, ts, sw, tw)
    return Record("", st, tt, sw, tw, sure, possible)


@register_corpus("numbers")
@dataclass(frozen=True, kw_only=True)
class NumbersConfig(CorpusConfig):
    """Numbers of min..max digits; test_long holds sources longer than any train source."""

    src_lang: str = "en"
    tgt_lang: str = "fr"
    min_digits: Count = 1
    max_digits: Count = 12
    sizes: dict[str, NonNegInt] = field(
        default_factory=lambda: {"train": 20000, "valid": 1000, "test": 1000, "test_long": 1000}
    )
    max_src_tokens: Count = 20
    long_src_tokens: tuple[Count, Count] = (21, 30)
    seed: Int = 1

    def __post_init__(self):
        for code in (self.src_lang, self.tgt_lang):
            if code not in LANGS:
                raise ValueError(f"no group rules for language {code!r}; known: {', '.join(sorted(LANGS))}")
        if not 1 <= self.min_digits <= self.max_digits <= 12:
            raise ValueError("need 1 <= min_digits <= max_digits <= 12 (13+ digits need unseen 'trillion')")
        unknown = set(self.sizes) - {"train", "valid", "test", "test_long"}
        if unknown:
            raise ValueError(f"sizes: unknown split(s) {sorted(unknown)}; valid: train, valid, test, test_long")

    def load(self) -> dict[str, list[Record]]:
        return load_numbers(self)

    def input_problems(self, project: Path) -> list[tuple[str, str]]:
        """Sizes above the count of distinct numbers, and word ranges that no number of the digit range reaches
        (`load` would search for ~a minute, then fail)."""
        return word_range_problems(self)


def digit_sampler(rng: random.Random, min_digits: int, max_digits: int):
    """Yield distinct numbers: digit count uniform among those not used up, then the number uniformly."""
    seen: set[int] = set()
    used = dict.fromkeys(range(min_digits, max_digits + 1), 0)
    while used:
        d = rng.choice(list(used))
        lo = 10 ** (d - 1) if d > 1 else 1
        n = rng.randint(lo, 10**d - 1)
        if n in seen:
            continue
        seen.add(n)
        used[d] += 1
        if used[d] == 10**d - lo:
            del used[d]
        yield n


@functools.cache
def group_words(code: str, g: int) -> tuple[int, ...]:
    """Words of `value * base**g` alone, for each group value 0..base-1 (0 words for 0): base num2words calls (~0.1 s,
    ~0.4 s for Korean's 10,000), made only when a word range looks out of reach."""
    base = 10 ** LANGS[code].group
    return (0, *(len(split_words(num2words(v * base**g, lang=code))) for v in range(1, base)))


def word_range(code: str, digits: int) -> tuple[int, int]:
    """Fewest and most words (`split_words` tokens) of a `digits`-digit number in language `code`. Fewest: its top
    group alone (every block's words appear in the whole verbalization, see `locate`, so none has fewer). Most:
    every group at its wordiest value, verbalized whole, separators (English "," and "and") included; exact for
    LANGS (tests/test_check_inputs.py compares it with every number up to 4 digits and a sample of longer ones)."""
    lang = LANGS[code]
    g, k = divmod(digits - 1, lang.group)
    top = group_words(code, g)[10**k : 10 ** (k + 1)]  # the top group holds k + 1 digits, its first nonzero
    number = 10**k + top.index(max(top))
    for j in reversed(range(g)):
        counts = group_words(code, j)
        number = number * 10**lang.group + counts.index(max(counts))
    return min(top), len(split_words(num2words(number, lang=code)))


def word_range_problems(cfg: NumbersConfig, sample: int = 200) -> list[tuple[str, str]]:
    """`(key, message)` for sizes no digit range can fill and word ranges it cannot meet. A sample of the numbers
    `load` would draw settles the usual case in milliseconds; only a range the sample misses is decided by the
    exact `word_range` of every digit count, so a rare but reachable range passes (and `load` decides it)."""
    lo_digits, hi_digits = cfg.min_digits, cfg.max_digits
    n_long = cfg.sizes.get("test_long", 0)
    n_short = sum(cfg.sizes.values()) - n_long
    count = 10**hi_digits - (10 ** (lo_digits - 1) if lo_digits > 1 else 1)
    digits = f"{lo_digits}-{hi_digits} digit" if lo_digits < hi_digits else f"{lo_digits}-digit"
    if n_short + n_long > count:
        return [("sizes", f"ask for {n_short + n_long} distinct numbers, but there are only {count} {digits} "
                          "numbers; lower sizes or raise max_digits")]
    drawn = itertools.islice(digit_sampler(random.Random(cfg.seed), lo_digits, hi_digits), sample)
    sizes = {len(split_words(num2words(n, lang=cfg.src_lang))) for n in drawn}
    lo, hi = cfg.long_src_tokens
    short_ok = not n_short or min(sizes) <= cfg.max_src_tokens
    long_ok = not n_long or any(lo <= s <= hi for s in sizes)
    if short_ok and long_ok:
        return []
    ranges = [word_range(cfg.src_lang, d) for d in range(lo_digits, hi_digits + 1)]
    fewest, most = min(r[0] for r in ranges), max(r[1] for r in ranges)
    reach = f"{digits} numbers have {fewest}-{most} words in {cfg.src_lang}"
    problems = []
    if not short_ok and cfg.max_src_tokens < fewest:
        problems.append(("max_src_tokens", f"{cfg.max_src_tokens}: no number has that few words ({reach}); give "
                                           f"at least {fewest}, or lower min_digits"))
    if not long_ok and (hi < fewest or lo > most):
        problems.append(("long_src_tokens", f"{[lo, hi]}: no number has {lo}-{hi} words ({reach}); give a range "
                                            f"that meets {fewest}-{most}, or change min_digits/max_digits"))
    return problems


def load_numbers(cfg: NumbersConfig) -> dict[str, list[Record]]:
    """Draw distinct numbers into a short pool (train/valid/test) and a long pool (test_long), then split."""
    rng = random.Random(cfg.seed)
    n_short = sum(v for k, v in cfg.sizes.items() if k != "test_long")
    n_long = cfg.sizes.get("test_long", 0)
    lo, hi = cfg.long_src_tokens
    short: list[Record] = []
    long: list[Record] = []
    budget = 20 * (n_short + n_long) + 20_000  # draws: ample for any feasible sizes, and never an endless search
    for draws, n in enumerate(digit_sampler(rng, cfg.min_digits, cfg.max_digits)):
        if len(short) >= n_short and len(long) >= n_long or draws >= budget:
            break
        text = num2words(n, lang=cfg.src_lang)
        size = len(split_words(text))
        if size <= cfg.max_src_tokens and len(short) < n_short:
            short.append(number_record(n, cfg.src_lang, cfg.tgt_lang, text))
        elif lo <= size <= hi and len(long) < n_long:
            long.append(number_record(n, cfg.src_lang, cfg.tgt_lang, text))
    if len(short) < n_short or len(long) < n_long:
        raise UserError(f"params.yaml: corpora.numbers: found {len(short)} of {n_short} numbers with at most "
                        f"max_src_tokens={cfg.max_src_tokens} words and {len(long)} of {n_long} with "
                        f"long_src_tokens={list(cfg.long_src_tokens)} words among {cfg.min_digits}-{cfg.max_digits} "
                        "digit numbers; lower sizes or widen the word ranges")
    rng.shuffle(short)
    splits, start = {}, 0
    for name in ("train", "valid", "test"):
        splits[name] = short[start : start + cfg.sizes.get(name, 0)]
        start += cfg.sizes.get(name, 0)
    splits["test_long"] = long
    return {k: with_ids(k, v) for k, v in splits.items() if k in cfg.sizes}

