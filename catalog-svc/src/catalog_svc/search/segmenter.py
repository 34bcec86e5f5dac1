"""Chinese word segmentation and pinyin, for the search index and for queries.

jieba loads a 350,000-word dictionary the first time it segments anything (about a second, less
with its cache file). That must not happen inside a request, so ``load_segmenter`` loads it once
per process, from the application's lifespan, off the event loop; every app in the process then
shares the same tokenizer.
"""

import functools
import logging
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

_lock = threading.Lock()
_segmenter: "Segmenter | None" = None


class Segmenter:
    """Word segmentation (jieba) and romanisation (pypinyin) of Chinese text.

    Results are remembered (bounded): the catalogue's texts are segmented again by every index
    built in the process, and queries repeat. Teaching the tokenizer a new word forgets them.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.words = functools.lru_cache(maxsize=16384)(self._words)
        self.search_terms = functools.lru_cache(maxsize=16384)(self._search_terms)

    @property
    def ready(self) -> bool:
        """Whether the dictionary is loaded (so no request will wait for it)."""
        return bool(self._tokenizer.initialized)

    def _words(self, text: str) -> tuple[str, ...]:
        """The words of ``text``, each once: how a query is read."""
        return tuple(word for word in self._tokenizer.lcut(text) if word.strip())

    def _search_terms(self, text: str) -> tuple[str, ...]:
        """The words of ``text`` and the shorter words inside them: how documents are indexed,
        so that a query word matches a longer word of an item's name (身份证 in 居民身份证)."""
        return tuple(word for word in self._tokenizer.lcut_for_search(text) if word.strip())

    def add_words(self, words: Iterable[str]) -> None:
        """Teach the tokenizer the catalogue's own words (item names, aliases, keywords), so that
        a query like 身份证丢了 is read as the alias it is."""
        learned = False
        for word in words:
            if len(word) > 1 and " " not in word and not self._tokenizer.FREQ.get(word):
                self._tokenizer.add_word(word)
                learned = True
        if learned:
            self.words.cache_clear()
            self.search_terms.cache_clear()

    @staticmethod
    def pinyin(text: str) -> str:
        """Full pinyin without tones or spaces: 身份证 → shenfenzheng."""
        return _pinyin(text)

    @staticmethod
    def initials(text: str) -> str:
        """First letters of each syllable: 身份证挂失 → sfzgs."""
        return _initials(text)


# Romanisation is pure and the catalogue's words recur (in every index built in the process and
# in queries): remember them.
@functools.lru_cache(maxsize=65536)
def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


@functools.lru_cache(maxsize=65536)
def _initials(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()


def load_segmenter(cache_dir: Path | None = None) -> Segmenter:
    """The process's segmenter, its dictionary loaded (blocking: call it in a worker thread).

    ``cache_dir`` holds jieba's dictionary cache (the service's own directory rather than the
    shared temporary one); only the first call in a process uses it.
    """
    global _segmenter
    with _lock:
        if _segmenter is None:
            with warnings.catch_warnings():
                # jieba 0.42's sources contain invalid escape sequences: compiling them (when no
                # bytecode is cached) warns (DeprecationWarning on 3.11, SyntaxWarning from
                # 3.12), which the test run would turn into an error.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", SyntaxWarning)
                import jieba
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            if cache_dir is not None and cache_dir.is_dir():
                tokenizer.tmp_dir = str(cache_dir)
            tokenizer.initialize()
            _segmenter = Segmenter(tokenizer)
        return _segmenter
