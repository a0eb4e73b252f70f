"""Page scan: do required / forbidden terms appear in a certificate's recorded text (§6)?

Matching is case-insensitive and collapses whitespace runs, but is otherwise an exact substring search:
punctuation and hyphens count. A wildcard (`{{*}}`, or `D*D` with a custom delimiter D) matches the
shortest run of any characters. v3 templates (`{"template": ..., "variables": [{...}, ...]}`) count as
found when any of their expansions is found. Results echo each term exactly as it was sent.

Written independently of the product's scanning engine on purpose: the two are compared in tests.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox import readings

_WHITESPACE = re.compile(r"\s+")
Term = str | dict[str, Any]


class DelimiterError(ValueError):
    """A custom delimiter the service rejects; the message is the API's reason text."""


@dataclass
class ScanResult:
    required_found: list[Term] = field(default_factory=list)
    required_not_found: list[Term] = field(default_factory=list)
    forbidden_found: list[Term] = field(default_factory=list)
    forbidden_not_found: list[Term] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.required_not_found and not self.forbidden_found


def normalize_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip().lower()


def check_delimiter(delimiter: str | None) -> None:
    if delimiter is None:
        return
    if _WHITESPACE.search(delimiter):
        raise DelimiterError("Invalid delimiter contains whitespace characters")
    if not 1 <= len(delimiter) <= readings.MAX_DELIMITER_LENGTH:
        raise DelimiterError("Invalid delimiter length")


def _markers(delimiter: str | None) -> tuple[str, str]:
    """The opening and closing strings around a wildcard `*` or a variable name."""
    if delimiter is None:
        return "{{", "}}"
    return delimiter, delimiter


def _pattern(term: str, delimiter: str | None) -> re.Pattern[str]:
    opening, closing = _markers(delimiter)
    wildcard = normalize_text(f"{opening}*{closing}")
    parts = normalize_text(term).split(wildcard)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.DOTALL)


def _expand(template: str, variables: list[dict[str, Any]], delimiter: str | None) -> list[str]:
    opening, closing = _markers(delimiter)
    if not variables:
        return [template]
    expansions = []
    for values in variables:
        text = template
        for name, value in values.items():
            text = text.replace(f"{opening}{name}{closing}", str(value))
        expansions.append(text)
    return expansions


def term_found(term: Term, page: str, delimiter: str | None = None) -> bool:
    """Whether one term (a string or a template object) appears in already normalised page text."""
    if isinstance(term, dict):
        candidates = _expand(str(term.get("template", "")), list(term.get("variables") or []), delimiter)
    else:
        candidates = [term]
    return any(_pattern(candidate, delimiter).search(page) for candidate in candidates)


def scan(
    page_text: str, required: list[Term], forbidden: list[Term], delimiter: str | None = None
) -> ScanResult:
    """Scan the page for each term; raises DelimiterError for a delimiter the service rejects."""
    check_delimiter(delimiter)
    page = normalize_text(page_text)
    result = ScanResult()
    for term in required:
        (result.required_found if term_found(term, page, delimiter) else result.required_not_found).append(
            term
        )
    for term in forbidden:
        (result.forbidden_found if term_found(term, page, delimiter) else result.forbidden_not_found).append(
            term
        )
    return result


def is_valid_term(term: object) -> bool:
    """A scan term is a string, or (v3, JSON only) a template object with string values."""
    if isinstance(term, str):
        return True
    if not isinstance(term, dict) or not isinstance(term.get("template"), str):
        return False
    variables = term.get("variables", [])
    return isinstance(variables, list) and all(isinstance(v, dict) for v in variables)
