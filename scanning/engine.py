"""Consent-language page scan, matching terms the way TrustedForm's page scan does.

Pure Python: imports nothing from Django or the rest of the project, so the claim code, the
editor preview and the sandbox's tests can all share one reading of the rules
(docs/trustedform.md §6).

Readings picked where TrustedForm documents nothing (each marked [I] in §6):
- the page text is the visible text of the HTML (see `visible_text`);
- a wildcard is the non-greedy `.*?` over the normalised text that §6 suggests: it may span any
  length, across sentences and elements (the sandbox reads it the same way; tests compare the two);
- a template is found when any expansion is found;
- a delimiter is one non-alphanumeric character repeated, at most `MAX_DELIMITER_LENGTH` long.
"""

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanning.nearmiss import NearMiss, explain_miss
from scanning.terms import Expansion, Piece, Syntax, TermRole, TermSpec, expand_term, parse_pieces, syntax_for
from scanning.text import NormalisedText, normalise, visible_text

# Up to this many candidate variants, a str.find per variant beats one pass of a combined regex.
FEW_CANDIDATES = 4
# A combined regex pays off when it starts with at least this many literal characters.
MIN_PIVOT_LENGTH = 4

# For a template, near misses are looked for in the expansions whose words best match the page.
NEAR_MISS_VARIANTS_TRIED = 3


@dataclass(frozen=True)
class TermResult:
    """One term's outcome; `start`/`end` index the scanned text so the UI can highlight `passage`."""

    term: TermSpec
    role: TermRole
    found: bool
    # The expansion that matched (the term itself unless it is a template) and its values.
    variant: str | None = None
    values: Mapping[str, str] | None = None
    near_miss: NearMiss | None = None
    # The match in normalised coordinates; mapped to the page text only when asked for, since
    # bulk checks need just found / not found.
    _match: tuple[NormalisedText, int, int] | None = field(default=None, repr=False, compare=False)

    @property
    def start(self) -> int | None:
        return self._original_span()[0]

    @property
    def end(self) -> int | None:
        return self._original_span()[1]

    @property
    def passage(self) -> str | None:
        start, end = self._original_span()
        return None if self._match is None else self._match[0].original[start:end]

    def _original_span(self) -> tuple[int | None, int | None]:
        if self._match is None:
            return None, None
        page, start, end = self._match
        return page.original_span(start, end)


@dataclass(frozen=True)
class ScanReport:
    """Outcome of a scan, echoing the API: found lists hold the terms as written."""

    required_found: list[str]
    required_not_found: list[str]
    forbidden_found: list[str]
    forbidden_not_found: list[str]
    success: bool | None
    results: list[TermResult]
    scanned_text: str


# --- compiling and scanning -------------------------------------------------------------------

_WILDCARD_REGEX = ".*?"
_WILDCARD_TOKEN = object()  # stands for a wildcard in the prefix tree of expansions
_END_TOKEN = object()  # a variant may match here (the caller checks it)


@dataclass(frozen=True)
class _LookBehind:
    """Ends a prefix-tree branch: the variant's whole text must end here."""

    text: str


class _PageVocabulary:
    """The words of a page, to rule most variants out before searching the page itself."""

    def __init__(self, words: list[str]) -> None:
        self.words = set(words)
        self._sorted: list[str] | None = None
        self._sorted_reversed: list[str] | None = None

    def candidates(self, variants: Sequence["_Variant"], rows: Iterable[int]) -> list[tuple[int, "_Variant"]]:
        """(row, variant) for the variants of `rows` (in row order) that may be on the page, judging
        by their words alone."""
        words = self.words
        # Set operations first: edge words are usually whole page words too.
        return [
            (index, variant)
            for index in rows
            if (variant := variants[index]).required_words <= words
            and (variant.edge_words <= words or self._has_edges(variant))
        ]

    def _has_edges(self, variant: "_Variant") -> bool:
        words = self.words
        for word in variant.word_starts:
            if word not in words and not self._has_word_starting(word):
                return False
        return all(word in words or self._has_word_ending(word) for word in variant.word_ends)

    def _has_word_starting(self, prefix: str) -> bool:
        if self._sorted is None:
            self._sorted = sorted(self.words)
        index = bisect_left(self._sorted, prefix)
        return index < len(self._sorted) and self._sorted[index].startswith(prefix)

    def _has_word_ending(self, suffix: str) -> bool:
        if self._sorted_reversed is None:
            self._sorted_reversed = sorted(word[::-1] for word in self.words)
        reversed_suffix = suffix[::-1]
        index = bisect_left(self._sorted_reversed, reversed_suffix)
        return index < len(self._sorted_reversed) and self._sorted_reversed[index].startswith(reversed_suffix)


@dataclass(frozen=True)
class _Variant:
    """One expansion, compiled. What its words require of the page (see `_word_requirements`)
    lets expansions naming a company that is not on the page be skipped without a search."""

    expansion: Expansion
    parts: tuple[NormalisedText, ...]
    required_words: frozenset[str]
    word_starts: frozenset[str]
    word_ends: frozenset[str]
    edge_words: frozenset[str]  # word_starts | word_ends
    # The literal parts between wildcards, empty ones dropped: a wildcard at either end matches the
    # empty string, so it never changes whether (or where) a term is found.
    literals: tuple[str, ...]

    def first_match(self, text: str, before: int) -> tuple[int, int] | None:
        """Span of the leftmost match starting before `before`, or None."""
        first = self.literals[0]
        start = text.find(first, 0, before + len(first) - 1)
        if start < 0:
            return None
        end = self._rest_end(text, start + len(first))
        return (start, end) if end is not None else None

    def match_at(self, text: str, position: int) -> int | None:
        """End of this variant's match starting at `position`, or None."""
        first = self.literals[0]
        return self._rest_end(text, position + len(first)) if text.startswith(first, position) else None

    def _rest_end(self, text: str, position: int) -> int | None:
        # `.*?` between literals: the earliest occurrence of each next literal is where a lazy regex
        # ends too, and if it cannot complete there no later start can. A str.find per literal keeps
        # this linear, where a regex would rescan the page from every occurrence of an earlier part.
        for literal in self.literals[1:]:
            found = text.find(literal, position)
            if found < 0:
                return None
            position = found + len(literal)
        return position


@dataclass(frozen=True)
class _CompiledTerm:
    spec: TermSpec
    role: TermRole
    variants: tuple[_Variant, ...]
    # One regex for all variants, starting at a literal they all contain (see `_combined_pattern`),
    # and where that literal starts in each variant.
    combined: re.Pattern[str] | None
    pivot_offsets: tuple[int, ...]

    def search(self, page: str, candidates: list[tuple[int, _Variant]]) -> tuple[_Variant, int, int] | None:
        """The leftmost match of any of the candidate variants (in row order); at a tie, the first."""
        if self.combined is not None and len(candidates) > FEW_CANDIDATES:
            return self._search_combined(page, candidates)
        best: tuple[_Variant, int, int] | None = None
        for _index, variant in candidates:
            span = variant.first_match(page, best[1] if best else len(page) + 1)
            if span is not None:
                best = (variant, *span)
        return best

    def _search_combined(
        self, page: str, candidates: list[tuple[int, _Variant]]
    ) -> tuple[_Variant, int, int] | None:
        assert self.combined is not None
        longest_offset = max(self.pivot_offsets[index] for index, _variant in candidates)
        best: tuple[int, int, _Variant, int] | None = None  # (start, row, variant, end)
        position = 0
        while (match := self.combined.search(page, position)) is not None:
            pivot = match.start()
            # No variant can start before the best start once the pivot is this far past it.
            if best is not None and pivot - longest_offset > best[0]:
                break
            for index, variant in candidates:
                start = pivot - self.pivot_offsets[index]
                if start < 0 or (best is not None and (start, index) >= best[:2]):
                    continue
                end = variant.match_at(page, start)
                if end is not None:
                    best = (start, index, variant, end)
            position = pivot + 1
        return (best[2], best[0], best[3]) if best else None


@dataclass(frozen=True)
class CompiledProfile:
    """Required and forbidden terms compiled once, to scan many pages."""

    terms: tuple[_CompiledTerm, ...]
    delimiter: str | None = None
    # Each variant's gate: one of the whole words it needs, the one fewest variants of the profile
    # share. One set intersection with the page's words then rules out most variants in bulk,
    # without Python work per variant. Variants needing no whole word are always candidates.
    _gates: dict[str, tuple[tuple[int, int], ...]] = field(init=False, repr=False, compare=False)
    _ungated: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _not_found: tuple[TermResult, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sharing = Counter(word for term in self.terms for v in term.variants for word in v.required_words)
        gates: dict[str, list[tuple[int, int]]] = {}
        ungated: list[tuple[int, int]] = []
        for term_index, term in enumerate(self.terms):
            for row, variant in enumerate(term.variants):
                if variant.required_words:
                    gate = min(variant.required_words, key=lambda word: (sharing[word], -len(word), word))
                    gates.setdefault(gate, []).append((term_index, row))
                else:
                    ungated.append((term_index, row))
        object.__setattr__(self, "_gates", {word: tuple(pairs) for word, pairs in gates.items()})
        object.__setattr__(self, "_ungated", tuple(ungated))
        # A term's result when it is not found and not explained is the same on every page, and
        # immutable: made once, shared by every report.
        object.__setattr__(
            self,
            "_not_found",
            tuple(TermResult(term=term.spec, role=term.role, found=False) for term in self.terms),
        )

    def _candidate_rows(self, words: set[str]) -> list[list[int]]:
        """For each term, the rows (in order) of its variants whose gate is a page word."""
        rows: list[list[int]] = [[] for _ in self.terms]
        for term_index, row in self._ungated:
            rows[term_index].append(row)
        for word in words.intersection(self._gates):
            for term_index, row in self._gates[word]:
                rows[term_index].append(row)
        for term_rows in rows:
            if len(term_rows) > 1:
                term_rows.sort()
        return rows

    def scan(self, page_text: str, explain_misses: bool = True) -> ScanReport:
        """Scan plain page text; near misses are worked out for missed required terms."""
        page = NormalisedText(page_text)
        vocabulary = _PageVocabulary(page.words)
        word_counts: Counter[str] | None = None
        results: list[TermResult] = []
        text = page.text
        candidate_rows = self._candidate_rows(vocabulary.words)
        for term, rows, not_found in zip(self.terms, candidate_rows, self._not_found, strict=True):
            hit = term.search(text, vocabulary.candidates(term.variants, rows)) if rows else None
            if hit is not None:
                variant, start, end = hit
                results.append(_found_result(term, variant.expansion, (page, start, end)))
            elif explain_misses and term.role is TermRole.REQUIRED:
                word_counts = word_counts or Counter(page.words)
                near_miss = _closest_near_miss(term, page, word_counts)
                results.append(TermResult(term=term.spec, role=term.role, found=False, near_miss=near_miss))
            else:
                results.append(not_found)
        return _report(results, page_text)

    def scan_html(self, html: str, explain_misses: bool = True) -> ScanReport:
        """Scan the visible text of an HTML page; offsets index `ScanReport.scanned_text`."""
        return self.scan(visible_text(html), explain_misses)


def _found_result(
    term: _CompiledTerm, expansion: Expansion, match: tuple[NormalisedText, int, int]
) -> TermResult:
    """TermResult(term=..., found=True, ...), built without the frozen dataclass's __init__, which
    sets each of its fields through object.__setattr__ and costs several times more."""
    result = object.__new__(TermResult)
    result.__dict__.update(
        term=term.spec,
        role=term.role,
        found=True,
        variant=expansion.written,
        values=expansion.values,
        near_miss=None,
        _match=match,
    )
    return result


def compile_profile(
    required: Iterable[TermSpec], forbidden: Iterable[TermSpec], delimiter: str | None = None
) -> CompiledProfile:
    """Validate and compile required and forbidden terms for fast scanning.

    Raises ScanTermError for the first invalid term or an invalid delimiter.
    """
    syntax = syntax_for(delimiter)
    terms = [_compile_term(spec, TermRole.REQUIRED, syntax) for spec in required]
    terms += [_compile_term(spec, TermRole.FORBIDDEN, syntax) for spec in forbidden]
    return CompiledProfile(tuple(terms), delimiter)


def _compile_term(spec: TermSpec, role: TermRole, syntax: Syntax) -> _CompiledTerm:
    variants = tuple(_compile_variant(expansion) for expansion in expand_term(spec, syntax))
    combined, pivot_offsets = _combined_pattern(parse_pieces(spec.text, syntax), variants)
    return _CompiledTerm(spec, role, variants, combined, pivot_offsets)


def _combined_pattern(
    pieces: list[Piece], variants: Sequence[_Variant]
) -> tuple[re.Pattern[str] | None, tuple[int, ...]]:
    """One prefix-tree regex for all variants of a template, starting at its longest literal piece.

    re scans fast for a pattern's leading literal, so one pass replaces a pass per variant, even
    when the template starts with a variable ("{{company}} offers ..."): the regex starts at the
    pivot (" offers ...") and the text before it is checked per variant where the regex matches.
    Returns (None, ()) when a str.find per variant is as good.
    """
    if len(variants) <= FEW_CANDIDATES or any(piece.is_wildcard for piece in pieces):
        # With a wildcard, a regex could rescan the rest of the page at every pivot; a linear
        # search per variant (after the vocabulary check) is safer.
        return None, ()
    literals: list[str] = []
    for piece in pieces:
        if piece.is_wildcard:
            break  # before the first wildcard, a piece sits at a fixed offset in each variant
        if not piece.name:
            literals.append(normalise(piece.written).strip())
    pivot = max(literals, key=len, default="")
    offsets = tuple(variant.parts[0].text.find(pivot) for variant in variants)
    if len(pivot) < MIN_PIVOT_LENGTH or min(offsets) < 0:
        return None, ()
    rests: list[list[object]] = []
    for variant, offset in zip(variants, offsets, strict=True):
        # A variant without wildcards ends in a look-behind over its whole text, so that the regex
        # only matches where the text before the pivot is right too.
        end = _END_TOKEN if offset == 0 else _LookBehind(variant.parts[0].text)
        rests.append([*_tokens(variant)[offset:], end])
    return re.compile(_prefix_tree_regex(rests)), offsets


def _compile_variant(expansion: Expansion) -> _Variant:
    parts: list[NormalisedText] = []
    last = len(expansion.parts) - 1
    for index, (written, offset) in enumerate(zip(expansion.parts, expansion.part_offsets, strict=True)):
        # The term's own leading and trailing whitespace asks for nothing on the page.
        stripped = written.lstrip() if index == 0 else written
        stripped = stripped.rstrip() if index == last else stripped
        start = offset + (len(written) - len(written.lstrip()) if index == 0 and stripped else 0)
        parts.append(NormalisedText(stripped, start))
    texts = [part.text for part in parts]
    literals = tuple(text for text in texts if text) or ("",)
    words, starts, ends = _word_requirements(texts)
    return _Variant(expansion, tuple(parts), words, starts, ends, starts | ends, literals)


def _word_requirements(parts: list[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Words the page must have (whole, as a word's start, as a word's end) for the parts to match.

    Within a literal part, a word with a space on both sides must be a page word. The scan is a
    substring search and a wildcard may stop mid-word, so the first word of a part need only end
    a page word, the last need only start one, and a part of a single word says nothing.
    """
    words: set[str] = set()
    starts: set[str] = set()
    ends: set[str] = set()
    for text in parts:
        tokens = text.split(" ")
        if len(tokens) < 2:
            continue
        words.update(tokens[1:-1])
        ends.add(tokens[0])
        starts.add(tokens[-1])
    return frozenset(words), frozenset(starts - {""}), frozenset(ends - {""})


def _tokens(variant: _Variant) -> list[object]:
    tokens: list[object] = []
    for index, part in enumerate(variant.parts):
        if index:
            tokens.append(_WILDCARD_TOKEN)
        tokens.extend(part.text)
    # A wildcard at either end matches the empty string, so it never changes whether a term is found.
    while tokens and tokens[0] is _WILDCARD_TOKEN:
        tokens.pop(0)
    while tokens and tokens[-1] is _WILDCARD_TOKEN:
        tokens.pop()
    return tokens


def _prefix_tree_regex(variants: list[list[object]]) -> str:
    """One regex for all variants, sharing common prefixes: "on behalf of (?:acme|mortgage acme) at".

    Each token list ends with _END_TOKEN or a _LookBehind. Past an _END_TOKEN the tree is cut: the
    regex already matches there, and the caller checks each variant where it matches.
    """
    root: dict[object, Any] = {}
    for tokens in variants:
        node = root
        *body, end = tokens
        for token in body:
            if _END_TOKEN in node:
                break
            node = node.setdefault(token, {})
        else:
            if end is _END_TOKEN:
                node.clear()
            if _END_TOKEN not in node:
                node[end] = {}
    return _subtree_regex(root)


def _subtree_regex(node: dict[object, Any]) -> str:
    parts: list[str] = []
    # Walk single-child chains in a loop; recursion happens only where variants branch.
    while len(node) == 1:
        ((token, node),) = node.items()
        parts.append(_token_regex(token))
    if node:
        branches = [_token_regex(token) + _subtree_regex(child) for token, child in node.items()]
        parts.append("(?:" + "|".join(branches) + ")")
    return "".join(parts)


def _token_regex(token: object) -> str:
    if token is _WILDCARD_TOKEN:
        return _WILDCARD_REGEX
    if token is _END_TOKEN:
        return ""
    if isinstance(token, _LookBehind):
        return f"(?<={re.escape(token.text)})"
    return re.escape(str(token))


def _report(results: list[TermResult], scanned_text: str) -> ScanReport:
    def terms(role: TermRole, found: bool) -> list[str]:
        return [r.term.text for r in results if r.role is role and r.found is found]

    required_not_found = terms(TermRole.REQUIRED, False)
    forbidden_found = terms(TermRole.FORBIDDEN, True)
    return ScanReport(
        required_found=terms(TermRole.REQUIRED, True),
        required_not_found=required_not_found,
        forbidden_found=forbidden_found,
        forbidden_not_found=terms(TermRole.FORBIDDEN, False),
        success=(not required_not_found and not forbidden_found) if results else None,
        results=results,
        scanned_text=scanned_text,
    )


# --- near misses ------------------------------------------------------------------------------


def _closest_near_miss(
    term: _CompiledTerm, page: NormalisedText, word_counts: Counter[str]
) -> NearMiss | None:
    # For a template, try the expansions whose inner words are most present on the page.
    ranked = sorted(
        term.variants,
        key=lambda v: -sum(word in word_counts for word in v.required_words) / max(1, len(v.required_words)),
    )
    best: NearMiss | None = None
    for variant in ranked[:NEAR_MISS_VARIANTS_TRIED]:
        near_miss = explain_miss(variant.expansion.written, variant.parts, page, word_counts)
        if near_miss and (best is None or near_miss.similarity > best.similarity):
            best = near_miss
    return best
