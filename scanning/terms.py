"""Scan terms as a compliance manager writes them: parsing, validating, expanding templates.

Pure Python, like the rest of the scan engine (docs/trustedform.md §6).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scanning.text import normalise

# The API rejects "Invalid delimiter length" without saying the limit (§6, §12). 3 allows every
# documented example (|, ==, |||) and no more: a delimiter the API refuses fails the claim (a 400),
# so the editor refuses what the service might. The sandbox reads the limit as 3 too.
MAX_DELIMITER_LENGTH = 3

_DEFAULT_OPEN, _DEFAULT_CLOSE = "{{", "}}"
_WILDCARD_NAME = "*"
_VARIABLE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class ScanTermError(ValueError):
    """A scan term or delimiter that cannot be scanned; `reason` is fit to show in the editor."""

    def __init__(self, reason: str, term: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.term = term


class TermRole(StrEnum):
    REQUIRED = "required"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class TermSpec:
    """A scan term as the compliance manager wrote it; non-empty `variables` makes it a template."""

    text: str
    variables: tuple[Mapping[str, str], ...] = ()
    label: str = ""

    @property
    def is_template(self) -> bool:
        return bool(self.variables)


# --- parsing and validating terms -------------------------------------------------------------


@dataclass(frozen=True)
class Syntax:
    open: str
    close: str
    placeholder: re.Pattern[str]

    def wrap(self, name: str) -> str:
        return f"{self.open}{name}{self.close}"


def validate_delimiter(delimiter: str | None) -> None:
    """Check a custom delimiter; None means the default {{ }} braces.

    Raises ScanTermError with the API's own reasons where it has them.
    """
    if delimiter is None:
        return
    if any(ch.isspace() for ch in delimiter):
        raise ScanTermError("Invalid delimiter contains whitespace characters")
    if not 1 <= len(delimiter) <= MAX_DELIMITER_LENGTH:
        raise ScanTermError("Invalid delimiter length")
    if len(set(delimiter)) != 1:
        raise ScanTermError(
            f"Invalid delimiter '{delimiter}': repeat a single character, such as |, == or |||"
        )
    if delimiter[0].isalnum() or delimiter[0] == "_":
        raise ScanTermError(
            f"Invalid delimiter '{delimiter}': use a symbol such as | or ==, "
            "since letters and digits also appear in consent text"
        )


def syntax_for(delimiter: str | None) -> Syntax:
    validate_delimiter(delimiter)
    open_, close = (_DEFAULT_OPEN, _DEFAULT_CLOSE) if delimiter is None else (delimiter, delimiter)
    name = rf"(\*|{_VARIABLE_NAME})"
    return Syntax(open_, close, re.compile(re.escape(open_) + name + re.escape(close)))


@dataclass(frozen=True)
class Piece:
    """Part of a term: literal text, a wildcard, or a template variable (`name`)."""

    written: str
    name: str = ""

    @property
    def is_wildcard(self) -> bool:
        return self.name == _WILDCARD_NAME


def parse_pieces(text: str, syntax: Syntax) -> list[Piece]:
    pieces: list[Piece] = []
    position = 0
    for match in syntax.placeholder.finditer(text):
        pieces.append(Piece(text[position : match.start()]))
        pieces.append(Piece(match.group(), match.group(1)))
        position = match.end()
    pieces.append(Piece(text[position:]))
    for piece in pieces:
        if not piece.name:
            _reject_stray_delimiters(piece.written, syntax, text)
    return [piece for piece in pieces if piece.written]


def _reject_stray_delimiters(literal: str, syntax: Syntax, term: str) -> None:
    stray = [marker for marker in {syntax.open, syntax.close} if marker in literal]
    if not stray:
        return
    loose = re.search(re.escape(syntax.open) + r"(.{0,40}?)" + re.escape(syntax.close), literal)
    if loose:
        raise ScanTermError(
            f"'{loose.group()}' is not a wildcard or a variable: write {syntax.wrap('*')} for a wildcard, "
            f"or a name of letters, digits and _ such as {syntax.wrap('company')}",
            term,
        )
    at = min(literal.index(marker) for marker in stray)
    raise ScanTermError(
        f"Unbalanced delimiter near '{literal[max(0, at - 15) : at + 15].strip()}': every "
        f"'{syntax.open}' needs a matching '{syntax.close}', as in {syntax.wrap('*')}",
        term,
    )


@dataclass(frozen=True)
class Expansion:
    """One candidate text of a term: a template with one row of values filled in."""

    written: str
    values: Mapping[str, str] | None
    # Literal text between wildcards, as written; a wildcard sits between consecutive parts.
    parts: tuple[str, ...]
    part_offsets: tuple[int, ...]


def expand_term(spec: TermSpec, syntax: Syntax) -> list[Expansion]:
    if not spec.text.strip():
        raise ScanTermError("The term is empty: enter the consent text to look for", spec.text)
    pieces = parse_pieces(spec.text, syntax)
    names = [piece.name for piece in pieces if piece.name and not piece.is_wildcard]
    _check_values(spec, names, syntax)
    rows: Sequence[Mapping[str, str] | None] = spec.variables or (None,)
    expansions: dict[tuple[str, ...], Expansion] = {}
    for number, row in enumerate(rows, start=1):
        expansion = _fill(pieces, row)
        if not "".join(expansion.parts).strip():
            reason = (
                f"Value row {number} leaves the term without any text to look for"
                if row is not None
                else "The term has no text besides wildcards, so it would match any page"
            )
            raise ScanTermError(reason, spec.text)
        key = tuple(normalise(part) for part in expansion.parts)
        expansions.setdefault(key, expansion)
    return list(expansions.values())


def _check_values(spec: TermSpec, names: list[str], syntax: Syntax) -> None:
    if names and not spec.variables:
        raise ScanTermError(
            f"The term uses {syntax.wrap(names[0])} but gives no values for it: add a value row "
            f"or write {syntax.wrap('*')} to accept any text",
            spec.text,
        )
    if spec.variables and not names:
        raise ScanTermError(
            f"Values are given but the term has no variable such as {syntax.wrap('company')} to fill in",
            spec.text,
        )
    wildcard = syntax.wrap(_WILDCARD_NAME)
    for number, row in enumerate(spec.variables, start=1):
        for name in names:
            if name not in row:
                raise ScanTermError(f"Value row {number} has no value for {syntax.wrap(name)}", spec.text)
        for name, value in row.items():
            if name not in names:
                raise ScanTermError(
                    f"Value row {number} gives a value for '{name}', which the term does not use",
                    spec.text,
                )
            if not isinstance(value, str):
                raise ScanTermError(
                    f"The value for {syntax.wrap(name)} in row {number} must be text", spec.text
                )
            if wildcard in value:
                raise ScanTermError(
                    f"The value for {syntax.wrap(name)} in row {number} contains a wildcard ({wildcard}): "
                    "values are plain text; put the wildcard in the term itself",
                    spec.text,
                )
            if syntax.open in value or syntax.close in value:
                raise ScanTermError(
                    f"The value for {syntax.wrap(name)} in row {number} contains the delimiter "
                    f"'{syntax.open}': values are plain text",
                    spec.text,
                )


def _fill(pieces: list[Piece], row: Mapping[str, str] | None) -> Expansion:
    written: list[str] = []
    parts: list[str] = []
    part_offsets: list[int] = []
    current: list[str] = []
    current_offset = 0
    length = 0
    for piece in pieces:
        if piece.is_wildcard:
            parts.append("".join(current))
            part_offsets.append(current_offset)
            current = []
            current_offset = length + len(piece.written)
            text = piece.written
        else:
            text = row[piece.name] if piece.name and row is not None else piece.written
            current.append(text)
        written.append(text)
        length += len(text)
    parts.append("".join(current))
    part_offsets.append(current_offset)
    return Expansion("".join(written), row, tuple(parts), tuple(part_offsets))


def validate_term(spec: TermSpec, delimiter: str | None = None) -> None:
    """Check that a term can be scanned with this delimiter.

    Raises ScanTermError (reason for the editor) for an empty term, an unknown or missing
    variable, a wildcard or delimiter inside a value, garbled delimiters or an invalid delimiter.
    """
    expand_term(spec, syntax_for(delimiter))


def variable_names(text: str, delimiter: str | None = None) -> list[str]:
    """The variable names a template uses, in order of first use; wildcards are not variables.

    Raises ScanTermError for an invalid delimiter.
    """
    names: list[str] = []
    for match in syntax_for(delimiter).placeholder.finditer(text):
        if match.group(1) != _WILDCARD_NAME and match.group(1) not in names:
            names.append(match.group(1))
    return names


def expand_for_v4(spec: TermSpec, delimiter: str | None = None) -> list[str]:
    """The strings to send to API v4, which has no templates: one per distinct expansion.

    Raises ScanTermError if the term is invalid.
    """
    return [expansion.written for expansion in expand_term(spec, syntax_for(delimiter))]


def as_v3_term(spec: TermSpec) -> str | dict[str, Any]:
    """The term in the v2/v3 wire format: the text, or {"template", "variables"} for a template."""
    if not spec.is_template:
        return spec.text
    return {"template": spec.text, "variables": [dict(row) for row in spec.variables]}
