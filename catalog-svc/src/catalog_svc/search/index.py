"""The in-memory search index over published service items, and how a query is scored.

Items are few (hundreds), so the whole index lives in memory, built at start-up from the
database. A query is read as *units* (its words, the colloquial phrases it contains, the
stretches of it the index does not know), and each unit is matched in several ways, from exact
to forgiving:

    exact term          a word of an item's name, aliases, keywords, topics or department
    synonym             丢了 → 挂失, from the vocabulary file
    sub-word            身份证 inside 居民身份证
    pinyin              sfzgs, shenfenzheng, as a term's initials or full pinyin, or as part of
                        an item's name or alias in pinyin
    sound-alike         身分证 → 身份证, 公基金 → 公积金 (the input method's typical slip)
    one edit away       gongjijn → gongjijin, 身份正 → 身份证

Before that, a stretch of the query that is no word of the catalogue but sounds exactly like one
(公基金 → 公积金, three characters or more) is read as that word, since the segmenter would
otherwise split the slip into other real words (公 + 基金) that match the wrong items.

An item's credit for a unit is the best of its matches: field weight × match factor × idf
(rarer matches count more). Its score is the sum over units, plus a bonus when the whole query
is its name or an alias (or inside one), scaled by the length of its name (as BM25 normalises
field length: of two items matching the same words, the one whose name is mostly those words
comes first: 公积金 → 住房公积金提取 before 职工死亡提取住房公积金). Items are ranked by score,
then by code.
"""

import bisect
import hashlib
import itertools
import math
import threading
import tomllib
import unicodedata
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from catalog_svc.search.segmenter import Segmenter

VOCABULARY_FILE = "search_vocabulary.toml"

FIELD_WEIGHTS = {"name": 3.0, "alias": 2.5, "keyword": 1.5, "topic": 1.0, "department": 1.0}
#: How much each kind of match counts, from exact to forgiving.
EXACT = 1.0
SYNONYM = 0.9
PINYIN_TERM = 0.9
PINYIN_INITIALS = 0.85
SOUND_ALIKE = 0.8
PINYIN_INSIDE = 0.75
SUB_WORD = 0.6
ONE_EDIT = 0.55
EXACT_NAME_BONUS = 6.0
CONTAINED_BONUS = 2.0
#: Shortest strings the forgiving matches apply to: shorter ones match too much.
MIN_EDIT_LENGTH_HAN = 3
MIN_EDIT_LENGTH_LATIN = 4
MAX_WINDOW = 6
#: How strongly a long name lowers an item's score (BM25's b): 0 none, 1 fully proportional.
NAME_LENGTH_NORM = 0.25

Postings = Mapping[str, float]

_BUILT_KEPT = 4
_built: "OrderedDict[str, SearchIndex]" = OrderedDict()
_built_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SearchVocabulary:
    synonyms: Mapping[str, tuple[str, ...]]
    stopwords: frozenset[str]

    @classmethod
    def load(cls, data_dir: Path) -> "SearchVocabulary":
        with (data_dir / VOCABULARY_FILE).open("rb") as handle:
            document = tomllib.load(handle)
        synonyms = {
            normalise(phrase): tuple(normalise(target) for target in targets)
            for phrase, targets in document.get("synonyms", {}).items()
        }
        return cls(synonyms=synonyms, stopwords=frozenset(document.get("stopwords", [])))


@dataclass(frozen=True, slots=True)
class IndexedItem:
    """What the index knows of an item: the fields it searches and the ones results show."""

    code: str
    name: str
    department_type: str
    handling_tier: str
    subject: str
    processing_mode: str
    min_loa: int
    promised_working_days: int | None = None
    offered_in: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    item: IndexedItem
    score: float


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def _runs(text: str) -> Iterator[tuple[bool, str]]:
    """Maximal runs of Chinese characters and of ASCII letters or digits: (is_han, run)."""
    kind: bool | None = None
    current: list[str] = []
    for char in text:
        this = True if _is_han(char) else (False if char.isascii() and char.isalnum() else None)
        if this != kind and current:
            if kind is not None:
                yield kind, "".join(current)
            current = []
        kind = this
        current.append(char)
    if current and kind is not None:
        yield kind, "".join(current)


def _lines(texts: Iterable[str]) -> tuple[str, list[int]]:
    """The texts one per line, and where each line starts (for str.find over them all)."""
    texts = list(texts)
    starts = list(itertools.accumulate((len(text) + 1 for text in texts[:-1]), initial=0))
    return "\n".join(texts), starts


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass
class _Unit:
    """One part of the query, with every way it matched: (postings, match factor)."""

    matches: list[tuple[Postings, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Form:
    """A name, alias or keyword of an item, in pinyin, for pinyin queries."""

    code: str
    weight: float
    full: str
    initials: str


class SearchIndex:
    def __init__(self, segmenter: Segmenter, vocabulary: SearchVocabulary) -> None:
        self._segmenter = segmenter
        self._vocabulary = vocabulary
        self._items: dict[str, IndexedItem] = {}
        self._postings: dict[str, dict[str, float]] = defaultdict(dict)
        self._phrases: dict[str, list[str]] = defaultdict(list)
        self._forms: list[_Form] = []
        self._by_sound: dict[str, set[str]] = defaultdict(set)
        self._by_initials: dict[str, set[str]] = defaultdict(set)
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        self._length_factor: dict[str, float] = {}
        self._phrase_list: list[str] = []
        self._phrase_text = ""
        self._phrase_starts: list[int] = []
        self._forms_full = ""
        self._form_starts_full: list[int] = []
        self._forms_initials: tuple[str, list[int]] = ("", [])

    @classmethod
    def build(
        cls,
        items: Iterable[IndexedItem],
        *,
        segmenter: Segmenter,
        vocabulary: SearchVocabulary,
        department_labels: Mapping[str, str],
    ) -> "SearchIndex":
        """The index of these items. An index is a pure function of its inputs and is never
        changed once built, so the last few built in the process are kept and handed out again
        for the same catalogue (several apps in one process, as in the test run)."""
        items = tuple(items)
        key = hashlib.sha256(
            repr(
                (
                    items,
                    sorted(vocabulary.synonyms.items()),
                    sorted(vocabulary.stopwords),
                    sorted(department_labels.items()),
                )
            ).encode()
        ).hexdigest()
        with _built_lock:
            if (cached := _built.get(key)) is not None:
                _built.move_to_end(key)
                return cached
        index = cls._build(items, segmenter, vocabulary, department_labels)
        with _built_lock:
            _built[key] = index
            while len(_built) > _BUILT_KEPT:
                _built.popitem(last=False)
        return index

    @classmethod
    def _build(
        cls,
        items: tuple[IndexedItem, ...],
        segmenter: Segmenter,
        vocabulary: SearchVocabulary,
        department_labels: Mapping[str, str],
    ) -> "SearchIndex":
        index = cls(segmenter, vocabulary)
        segmenter.add_words(
            word
            for item in items
            for word in (item.name, *item.aliases, *item.keywords)
            if all(_is_han(char) for char in word)
        )
        for item in items:
            index._add(item, department_labels.get(item.department_type))
        index._index_terms()
        index._length_norms()
        index._freeze()
        return index

    def _length_norms(self) -> None:
        if not self._items:
            return
        lengths = {code: len(item.name) for code, item in self._items.items()}
        average = sum(lengths.values()) / len(lengths)
        self._length_factor = {
            code: 1.0 / (1.0 - NAME_LENGTH_NORM + NAME_LENGTH_NORM * length / average)
            for code, length in lengths.items()
        }

    def _freeze(self) -> None:
        # Plain dicts from here on: a lookup of a missing key must never insert one, since
        # requests share the index.
        self._postings = {term: dict(postings) for term, postings in self._postings.items()}
        self._phrases = dict(self._phrases)
        # Every name and alias without spaces, one per line, and where each line starts: a
        # query is looked for in them all at once (str.find), not phrase by phrase.
        self._phrase_list = list(self._phrases)
        self._phrase_text, self._phrase_starts = _lines(
            phrase.replace(" ", "") for phrase in self._phrase_list
        )
        # The same for the pinyin of names, aliases and keywords (full, and initials).
        self._forms_full, self._form_starts_full = _lines(form.full for form in self._forms)
        self._forms_initials = _lines(form.initials for form in self._forms)
        self._by_sound = dict(self._by_sound)
        self._by_initials = dict(self._by_initials)
        self._by_deletion = dict(self._by_deletion)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def segmenter(self) -> Segmenter:
        return self._segmenter

    @property
    def items(self) -> list[IndexedItem]:
        """Every indexed item, by code."""
        return [self._items[code] for code in sorted(self._items)]

    def _add(self, item: IndexedItem, department_label: str | None) -> None:
        self._items[item.code] = item
        fields: list[tuple[str, str]] = [("name", item.name)]
        fields += [("alias", alias) for alias in item.aliases]
        fields += [("keyword", keyword) for keyword in item.keywords]
        fields += [("topic", topic) for topic in item.topics]
        if department_label:
            fields.append(("department", department_label))
        for kind, text in fields:
            weight = FIELD_WEIGHTS[kind]
            phrase = normalise(text)
            terms = {phrase} if " " not in phrase else set()
            for is_han, run in _runs(phrase):
                terms.add(run)
                if is_han:
                    terms.update(self._segmenter.search_terms(run))
            for term in terms:
                if len(term) > 1 or term.isascii():
                    postings = self._postings[term]
                    postings[item.code] = max(postings.get(item.code, 0.0), weight)
            if kind in ("name", "alias"):
                self._phrases[phrase].append(item.code)
            if kind in ("name", "alias", "keyword") and any(_is_han(c) for c in phrase):
                han = "".join(c for c in phrase if _is_han(c))
                self._forms.append(
                    _Form(
                        item.code,
                        weight,
                        self._segmenter.pinyin(han),
                        self._segmenter.initials(han),
                    )
                )

    def _index_terms(self) -> None:
        """Sound-alike, initials and one-edit neighbourhoods of every term, for the forgiving
        matches (symmetric deletion: two strings one edit apart share a one-deletion form)."""
        for term in self._postings:
            if not all(_is_han(char) for char in term):
                continue
            sound = self._segmenter.pinyin(term)
            self._by_sound[sound].add(term)
            self._by_initials[self._segmenter.initials(term)].add(term)
            if len(term) >= MIN_EDIT_LENGTH_HAN:
                for variant in _deletions(term):
                    self._by_deletion[variant].add(term)
            if len(sound) >= MIN_EDIT_LENGTH_LATIN:
                for variant in {sound} | _deletions(sound):
                    self._by_deletion[variant].add(term)

    # --- queries -------------------------------------------------------------------------

    def search(self, query: str) -> list[SearchHit]:
        """Every item the query matches, best first."""
        text = self._correct_sound_alikes(normalise(query))
        if not text:
            return []
        scores: dict[str, float] = defaultdict(float)
        for unit in self._units(text):
            best: dict[str, float] = {}
            for postings, factor in unit.matches:
                idf = math.log(1 + len(self._items) / len(postings)) if postings else 0.0
                for code, weight in postings.items():
                    credit = weight * factor * idf
                    if credit > best.get(code, 0.0):
                        best[code] = credit
            for code, credit in best.items():
                scores[code] += credit
        for code, bonus in self._phrase_bonuses(text).items():
            scores[code] += bonus
        hits = [
            SearchHit(self._items[code], round(score * self._length_factor[code], 4))
            for code, score in scores.items()
        ]
        hits.sort(key=lambda hit: (-hit.score, hit.item.code))
        return [hit for hit in hits if hit.score > 0]

    def _correct_sound_alikes(self, text: str) -> str:
        """Replace stretches (longest first, left to right) that are no term of the index but
        sound exactly like one term of the same length."""
        if not any(_is_han(char) for char in text):
            return text
        out: list[str] = []
        position = 0
        while position < len(text):
            replaced = False
            for size in range(min(MAX_WINDOW, len(text) - position), MIN_EDIT_LENGTH_HAN - 1, -1):
                window = text[position : position + size]
                if not all(_is_han(char) for char in window) or window in self._postings:
                    continue
                candidates = [
                    term
                    for term in self._by_sound.get(self._segmenter.pinyin(window), ())
                    if len(term) == size
                ]
                if len(candidates) == 1:
                    out.append(candidates[0])
                    position += size
                    replaced = True
                    break
            if not replaced:
                out.append(text[position])
                position += 1
        return "".join(out)

    def _phrase_bonuses(self, text: str) -> dict[str, float]:
        """Per item, once: the query is its name or an alias, or lies inside one."""
        compact = text.replace(" ", "")
        bonuses: dict[str, float] = {}
        if len(compact) > 1 and "\n" not in compact:
            position = self._phrase_text.find(compact)
            while position != -1:
                line = bisect.bisect_right(self._phrase_starts, position) - 1
                for code in self._phrases[self._phrase_list[line]]:
                    bonuses[code] = CONTAINED_BONUS
                # On to the next phrase: one bonus per phrase is enough.
                following = line + 1
                if following >= len(self._phrase_starts):
                    break
                position = self._phrase_text.find(compact, self._phrase_starts[following])
        for code in self._phrases.get(text, ()):
            bonuses[code] = EXACT_NAME_BONUS
        return bonuses

    def _units(self, text: str) -> list[_Unit]:
        units: list[_Unit] = []
        seen_words: set[str] = set()
        for is_han, run in _runs(text):
            if is_han:
                units += self._han_units(run, seen_words)
            else:
                units.append(self._latin_unit(run))
        for phrase, targets in self._vocabulary.synonyms.items():
            if phrase in text.replace(" ", "") and phrase not in seen_words:
                units.append(_Unit([(self._postings.get(t, {}), SYNONYM) for t in targets]))
        return [unit for unit in units if unit.matches]

    def _han_units(self, run: str, seen_words: set[str]) -> list[_Unit]:
        units: list[_Unit] = []
        unknown: list[str] = []

        def close_unknown() -> None:
            if len(stretch := "".join(unknown)) > 1:
                units.append(self._unknown_unit(stretch))
            unknown.clear()

        for word in self._segmenter.words(run):
            if word in self._vocabulary.stopwords:
                close_unknown()
                continue
            seen_words.add(word)
            synonyms = self._vocabulary.synonyms.get(word, ())
            if word in self._postings or synonyms:
                close_unknown()
                unit = _Unit([(self._postings.get(word, {}), EXACT)])
                unit.matches += [(self._postings.get(t, {}), SYNONYM) for t in synonyms]
                unit.matches += [(self._postings[t], SUB_WORD) for t in self._sub_words(word)]
                units.append(unit)
            else:
                unknown.append(word)
        close_unknown()
        return units

    def _sub_words(self, text: str) -> set[str]:
        return {
            term
            for term in self._segmenter.search_terms(text)
            if term != text and len(term) > 1 and term in self._postings
        }

    def _unknown_unit(self, stretch: str) -> _Unit:
        """A stretch of Chinese the index does not know: its known sub-words, words that sound
        the same, words one character away, and items whose pinyin contains its sound."""
        unit = _Unit([(self._postings[t], SUB_WORD) for t in self._sub_words(stretch)])
        for window in self._windows(stretch):
            sound = self._segmenter.pinyin(window)
            unit.matches += [
                (self._postings[t], SOUND_ALIKE) for t in self._by_sound.get(sound, ())
            ]
            if len(window) >= MIN_EDIT_LENGTH_HAN:
                for term in self._one_edit(window):
                    unit.matches.append((self._postings[term], ONE_EDIT))
        unit.matches.append((self._pinyin_inside(self._segmenter.pinyin(stretch)), PINYIN_INSIDE))
        return unit

    @staticmethod
    def _windows(stretch: str) -> Iterator[str]:
        for size in range(min(len(stretch), MAX_WINDOW), 1, -1):
            for start in range(len(stretch) - size + 1):
                yield stretch[start : start + size]

    def _one_edit(self, word: str) -> set[str]:
        found: set[str] = set()
        for variant in {word} | _deletions(word):
            found |= self._by_deletion.get(variant, set())
        return found

    def _latin_unit(self, run: str) -> _Unit:
        """Letters and digits: a term as such (ETC), or pinyin, full or initials, possibly
        mistyped."""
        unit = _Unit([(self._postings.get(run, {}), EXACT)])
        unit.matches += [(self._postings[t], PINYIN_TERM) for t in self._by_sound.get(run, ())]
        if len(run) >= 2:
            unit.matches += [
                (self._postings[t], PINYIN_INITIALS) for t in self._by_initials.get(run, ())
            ]
            unit.matches.append((self._pinyin_inside(run), PINYIN_INSIDE))
        if len(run) >= MIN_EDIT_LENGTH_LATIN:
            unit.matches += [(self._postings[t], ONE_EDIT) for t in self._one_edit(run)]
        return unit

    def _pinyin_inside(self, letters: str) -> dict[str, float]:
        """Items with a name, alias or keyword whose pinyin (full, or initials for short input)
        contains ``letters``."""
        found: dict[str, float] = {}
        if len(letters) < 2 or not letters.isalnum():
            return found
        for text, starts in ((self._forms_full, self._form_starts_full), self._forms_initials):
            position = text.find(letters)
            while position != -1:
                line = bisect.bisect_right(starts, position) - 1
                form = self._forms[line]
                found[form.code] = max(found.get(form.code, 0.0), form.weight)
                if line + 1 >= len(starts):
                    break
                position = text.find(letters, starts[line + 1])
        return found
