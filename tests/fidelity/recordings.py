"""Loaders for the real QBO recordings in ../shared/qbo/samples (read at run time, never copied).

Two formats (see samples/SOURCES.md):

* ``recorded/qbo_api_vcr_2020/*.yml`` - VCR cassettes from minimul/qbo_api. They are read by
  ``parse_cassette_yaml``, a reader for the small part of YAML that VCR writes (block mappings
  and sequences, plain scalars, single-quoted scalars folded over several lines), so the suite
  needs no YAML library; ``test_recordings.py`` checks it against PyYAML where that is installed.
  In some cassettes the URI lost its ``/company/{realm}`` segment to VCR scrubbing and the
  ``requestid=`` values are blank: ``Exchange.scrubbed`` says so, and blank requestids are
  dropped, since the real requests carried one.
* ``recorded/nango_2026/*.test.json`` - Nango fixtures. Only ``api.<method>.<path>.request`` and
  ``.response`` (and ``.status``) are QBO's; ``input``/``output`` and the fixture ``headers``
  are Nango's own and are ignored.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

VCR_DIR = "recorded/qbo_api_vcr_2020"
NANGO_DIR = "recorded/nango_2026"


class CassetteError(ValueError):
    """The file uses YAML this reader does not understand (it never guesses)."""


@dataclass(frozen=True)
class Exchange:
    """One recorded request and QBO's answer, with the path relative to the company."""

    source: str
    method: str  # upper case
    path: str  # under /v3/company/{realm}/, e.g. "customer/5", "query", "invoice"
    params: dict[str, str]
    request_body: str  # "" when there was none
    request_content_type: str
    status: int
    headers: dict[str, str]  # lower-case names; empty for Nango (its headers are Nango's)
    response_text: str | None = None
    response_doc: Any = None
    scrubbed: bool = False  # the recorded URI lost /company/{realm} (SOURCES.md)

    def json(self) -> Any:
        """QBO's answer, a fresh copy each time (tests may change what they get)."""
        if self.response_text is not None:
            return json.loads(self.response_text)
        return copy.deepcopy(self.response_doc)

    def request_json(self) -> Any:
        return json.loads(self.request_body) if self.request_body else None


# A reader for VCR's YAML --------------------------------------------------------------------

_KEY = re.compile(r"^([^'\"\s#-][^:]*?):(?:\s+(.*))?$")
_INT = re.compile(r"^[-+]?[0-9]+$")


@dataclass
class _Token:
    indent: int
    dash: bool
    key: str | None = None
    value: Any = None
    has_value: bool = False
    line: int = 0


def _plain(text: str) -> Any:
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if text[0] in '[{&*!|>%@`"':
        raise CassetteError(f"unsupported YAML scalar {text!r}")
    return text


def _closing_quote(segment: str, start: int) -> int:
    """Index of the quote that ends a single-quoted scalar in ``segment``, or -1."""
    i = start
    while i < len(segment):
        if segment[i] == "'":
            if i + 1 < len(segment) and segment[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _quoted(raw: list[str], first: int, number: int) -> tuple[str, int]:
    """A single-quoted scalar starting on raw[first]; returns it and the next raw line index."""
    segments = [raw[first]]
    end = _closing_quote(segments[0], 1)
    index = first + 1
    while end < 0:
        if index >= len(raw):
            raise CassetteError(f"line {number}: unterminated quoted scalar")
        segments.append(raw[index].strip())
        index += 1
        end = _closing_quote(segments[-1], 0)
    if segments[-1][end + 1 :].strip():
        raise CassetteError(f"line {number}: text after a quoted scalar")
    segments[-1] = segments[-1][: end + 1]
    # Fold: a single line break is a space, each empty line a newline (YAML flow scalars).
    text = segments[0].rstrip() if len(segments) > 1 else segments[0]
    blank = 0
    for segment in segments[1:]:
        if not segment:
            blank += 1
            continue
        text += ("\n" * blank if blank else " ") + segment
        blank = 0
    return text[1:-1].replace("''", "'"), index


def _scalar(raw: list[str], index: int, text: str, number: int) -> tuple[Any, int]:
    if text.startswith("'"):
        start = len(raw[index].rstrip()) - len(text)
        lines = [raw[index][start:], *raw[index + 1 :]]
        value, used = _quoted(lines, 0, number)
        return value, index + used
    return _plain(text), index + 1


def _tokens(text: str) -> list[_Token]:
    raw = text.splitlines()
    tokens: list[_Token] = []
    index = 0
    while index < len(raw):
        line = raw[index].rstrip()
        content = line.lstrip(" ")
        if not content or content.startswith("#") or content in ("---", "..."):
            index += 1
            continue
        if "\t" in line[: len(line) - len(content)]:
            raise CassetteError(f"line {index + 1}: tab indentation")
        indent = len(line) - len(content)
        number = index + 1
        while content == "-" or content.startswith("- "):
            tokens.append(_Token(indent, True, line=number))
            rest = content[1:].lstrip(" ")
            indent += len(content) - len(rest)
            content = rest
        if not content:
            index += 1
            continue
        match = _KEY.match(content)
        if match:
            key, value_text = match.group(1).strip(), match.group(2)
            token = _Token(indent, False, key=key, line=number)
            if value_text is None or not value_text.strip():
                index += 1
            else:
                token.value, index = _scalar(raw, index, value_text.strip(), number)
                token.has_value = True
            tokens.append(token)
        else:
            if not tokens or not tokens[-1].dash:
                raise CassetteError(f"line {number}: expected 'key: value', got {content!r}")
            dash = tokens[-1]
            dash.value, index = _scalar(raw, index, content, number)
            dash.has_value = True
    return tokens


def _block(tokens: list[_Token], pos: int) -> tuple[Any, int]:
    first = tokens[pos]
    if first.dash:
        return _sequence(tokens, pos, first.indent)
    return _mapping(tokens, pos, first.indent)


def _nested(tokens: list[_Token], pos: int, indent: int, *, in_map: bool) -> tuple[Any, int]:
    if pos < len(tokens):
        nxt = tokens[pos]
        if nxt.indent > indent or (in_map and nxt.indent == indent and nxt.dash):
            return _block(tokens, pos)
    return None, pos


def _sequence(tokens: list[_Token], pos: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while pos < len(tokens) and tokens[pos].indent == indent and tokens[pos].dash:
        token = tokens[pos]
        pos += 1
        if token.has_value:
            items.append(token.value)
        else:
            item, pos = _nested(tokens, pos, indent, in_map=False)
            items.append(item)
    return items, pos


def _mapping(tokens: list[_Token], pos: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while pos < len(tokens) and tokens[pos].indent == indent and not tokens[pos].dash:
        token = tokens[pos]
        pos += 1
        assert token.key is not None
        if token.key in result:
            raise CassetteError(f"line {token.line}: duplicate key {token.key!r}")
        if token.has_value:
            result[token.key] = token.value
        else:
            result[token.key], pos = _nested(tokens, pos, indent, in_map=True)
    return result, pos


def parse_cassette_yaml(text: str) -> Any:
    """The document in a VCR cassette, as PyYAML's safe_load would return it."""
    tokens = _tokens(text)
    if not tokens:
        return None
    value, pos = _block(tokens, 0)
    if pos != len(tokens):
        raise CassetteError(f"line {tokens[pos].line}: unexpected indentation")
    return value


# Exchanges ----------------------------------------------------------------------------------

_COMPANY = re.compile(r"^/v3/company/[^/]+/")


def company_path(url_path: str) -> tuple[str, bool]:
    """The path under /v3/company/{realm}/, and whether the recording had lost that segment."""
    match = _COMPANY.match(url_path)
    if match:
        return url_path[match.end() :], False
    if url_path.startswith("/v3/"):
        return url_path[len("/v3/") :], True
    raise ValueError(f"not a QBO v3 path: {url_path}")


def _joined(values: Any) -> str:
    if isinstance(values, list):
        return ", ".join(str(v) for v in values)
    return "" if values is None else str(values)


def load_cassette(path: Path) -> list[Exchange]:
    doc = parse_cassette_yaml(path.read_text(encoding="utf-8"))
    exchanges = []
    for number, interaction in enumerate(doc["http_interactions"]):
        request, response = interaction["request"], interaction["response"]
        url = urlsplit(request["uri"])
        rel, scrubbed = company_path(url.path)
        params = {
            k: v
            for k, v in parse_qsl(url.query, keep_blank_values=True)
            if not (k == "requestid" and v == "")  # blanked by the scrubber (SOURCES.md)
        }
        request_headers = {k.lower(): _joined(v) for k, v in (request.get("headers") or {}).items()}
        exchanges.append(
            Exchange(
                source=f"{path.name}#{number}",
                method=str(request["method"]).upper(),
                path=rel,
                params=params,
                request_body=(request.get("body") or {}).get("string") or "",
                request_content_type=request_headers.get("content-type", ""),
                status=int(response["status"]["code"]),
                headers={k.lower(): _joined(v) for k, v in (response.get("headers") or {}).items()},
                response_text=(response.get("body") or {}).get("string") or "",
                scrubbed=scrubbed,
            )
        )
    return exchanges


def load_nango(path: Path) -> list[Exchange]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    exchanges = []
    for method, by_path in doc["api"].items():
        for url_path, recorded in by_path.items():
            request = recorded.get("request") or {}
            rel, scrubbed = company_path(url_path)
            data = request.get("data")
            headers = {k.lower(): str(v) for k, v in (request.get("headers") or {}).items()}
            exchanges.append(
                Exchange(
                    source=f"{path.name}:{method} {url_path}",
                    method=method.upper(),
                    path=rel,
                    params={k: str(v) for k, v in (request.get("params") or {}).items()},
                    request_body=json.dumps(data) if data is not None else "",
                    request_content_type=headers.get(
                        "content-type", "application/json" if data is not None else ""
                    ),
                    status=int(recorded.get("status", 200)),
                    headers={},
                    response_doc=recorded["response"],
                    scrubbed=scrubbed,
                )
            )
    return exchanges


def vcr(samples: Path, name: str) -> list[Exchange]:
    """Every exchange of ``recorded/qbo_api_vcr_2020/<name>.yml``, in recorded order."""
    return load_cassette(samples / VCR_DIR / f"{name}.yml")


def nango(samples: Path, name: str) -> Exchange:
    """The one QBO exchange of ``recorded/nango_2026/<name>.test.json``."""
    (exchange,) = load_nango(samples / NANGO_DIR / f"{name}.test.json")
    return exchange


def sample_json(samples: Path, relative: str) -> Any:
    """A JSON sample (oauth/, webhooks/); the .NET SDK's files start with a BOM."""
    return json.loads((samples / relative).read_text(encoding="utf-8-sig"))
