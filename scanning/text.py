"""Page text as TrustedForm's page scan reads it: the visible text of the HTML, normalised.

Pure Python, like the rest of the scan engine (docs/trustedform.md §6).
"""

import re
from bisect import bisect_right
from html.parser import HTMLParser

# Every character str.isspace() accepts except the plain space (a test checks the list): with
# runs of 2+ spaces, what normalising changes. Literal searches for these are many times faster
# than a \s regex over a 200 KB page.
_OTHER_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_OTHER_ASCII_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


class NormalisedText:
    """Text lower-cased with whitespace runs collapsed, able to map offsets back to the original."""

    def __init__(self, original: str, base_offset: int = 0) -> None:
        self.original = original
        lowered = original.lower()
        self._lower_map: list[int] | None = None
        if len(lowered) != len(original):
            # A few characters (e.g. "İ") lower-case to two; keep where each came from.
            self._lower_map = [i for i, ch in enumerate(original) for _ in ch.lower()]
        self._lowered = lowered
        self._base_offset = base_offset
        # split/join is several times faster than re.sub on a 200 KB page; keep the edge spaces so
        # that normalising only ever collapses whitespace and never drops it.
        self.words = lowered.split()
        text = " ".join(self.words)
        if lowered[:1].isspace():
            text = " " + text if self.words else " "
        if lowered[-1:].isspace() and self.words:
            text += " "
        self.text = text
        self._runs: tuple[list[int], list[int], list[int]] | None = None

    def to_original(self, index: int) -> int:
        """Offset in the original text (plus base offset) of normalised offset `index`."""
        if self._runs is None:
            self._runs = self._irregular_runs()
        run_starts, lowered_starts, shrink_after = self._runs
        k = bisect_right(run_starts, index) - 1
        if k < 0:
            lowered = index
        elif index == run_starts[k]:
            lowered = lowered_starts[k]
        else:
            lowered = index + shrink_after[k]
        if self._lower_map is not None:
            lowered = self._lower_map[lowered] if lowered < len(self._lower_map) else len(self.original)
        return lowered + self._base_offset

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) covering the normalised span [start, end)."""
        first = self.to_original(start)
        return first, (self.to_original(end - 1) + 1 if end > start else first)

    def _irregular_runs(self) -> tuple[list[int], list[int], list[int]]:
        """Whitespace runs that normalising changes: 2+ characters, or not a plain space."""
        lowered = self._lowered
        others = _OTHER_ASCII_WHITESPACE if lowered.isascii() else _OTHER_WHITESPACE
        run_ends: dict[int, int] = {}
        # Each pattern starts with a literal, which re finds fast; a run is found from its first
        # irregular character, so step back over a plain space or two before it.
        for marker in ["  ", *(ch for ch in others if ch in lowered)]:
            for match in re.finditer(re.escape(marker) + r"\s*", lowered):
                start, end = match.span()
                while start > 0 and lowered[start - 1].isspace():
                    start -= 1
                if run_ends.get(start, 0) < end:
                    run_ends[start] = end
        run_starts: list[int] = []
        lowered_starts: list[int] = []
        shrink_after: list[int] = []
        shrink = 0
        for start, end in sorted(run_ends.items()):
            run_starts.append(start - shrink)
            lowered_starts.append(start)
            shrink += end - start - 1
            shrink_after.append(shrink)
        return run_starts, lowered_starts, shrink_after


def normalise(text: str) -> str:
    """Normalise text as the page scan compares it: lower-cased, whitespace runs made one space."""
    return NormalisedText(text).text


# --- visible text of an HTML page -------------------------------------------------------------

# Content the visitor never sees. noscript and title are included: TrustedForm records pages
# with JavaScript running, and the title is not part of the page body.
_HIDDEN_ELEMENTS = frozenset({"script", "style", "template", "head", "title", "noscript"})
_HEAD_ELEMENTS = frozenset({"base", "link", "meta", "noscript", "script", "style", "template", "title"})
# Elements that start on a new line (or cell), so words on either side of them do not run together.
_BLOCK_ELEMENTS = frozenset(
    """address article aside blockquote br button caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr legend li main nav ol option p pre
    section select summary table tbody td textarea tfoot th thead tr ul""".split()  # noqa: SIM905
)


class _VisibleTextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden[-1:] == ["head"] and tag not in _HEAD_ELEMENTS:
            self._hidden.pop()  # like browsers, end an unclosed <head> at the first body element
        if tag in _HIDDEN_ELEMENTS:
            self._hidden.append(tag)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._hidden:
            while self._hidden and self._hidden.pop() != tag:
                pass
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a visitor sees in `html`: no tags, comments, scripts, styles or head; entities decoded.

    Hidden-by-CSS elements and attribute values are kept and dropped respectively: §6 leaves both
    open, and the scan runs on the recorded text content.
    """
    parser = _VisibleTextParser()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
