"""YAML -> typed pydantic models, with every error reported as ``path:line: message``.

Files are parsed twice at most: fast into plain data (:func:`parse_plain`, libyaml), and with
ruamel's round-trip parser, which keeps line numbers, only when something is wrong and a
``path:line`` has to be found (:func:`parse_yaml`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.resolver import implicit_resolvers
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from metricdag.errors import Problem, SpecError

M = TypeVar("M", bound=BaseModel)


def parse_yaml(text: str, path: Path | str) -> Any:
    """Round-trip parse (keeps line numbers); a syntax error becomes a SpecError."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SpecError.single(path, line, f"YAML syntax error: {exc.problem or exc}") from None


class _FastLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):
    """libyaml with YAML 1.2's plain scalars, as ruamel resolves them (``yes``/``on`` stay
    strings, ``0o17`` is an int); anything else it is unsure of is left to ruamel."""


_FastLoader.yaml_implicit_resolvers = {}
for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions and _tag.rsplit(":", 1)[-1] in ("bool", "float", "int", "merge", "null", "timestamp"):
        _FastLoader.add_implicit_resolver(_tag, _regexp.lazy_self(), _first)  # the compiled pattern, not ruamel's lazy proxy


class _NotFast(yaml.YAMLError):
    """Left to the round-trip parser: it reports the problem with its line, or parses what this
    loader does not (a duplicate key, a merge key, a complex key)."""


def _int(loader: _FastLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)  # 0755 is 755, as ruamel reads YAML 1.2


def _mapping(loader: _FastLoader, node: yaml.MappingNode) -> dict:
    keys = [k.value if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge" else None for k, _ in node.value]
    if None in keys or len(set(keys)) != len(keys):
        raise _NotFast("duplicate, merge or complex key")
    return {str(loader.construct_object(k, deep=True)): loader.construct_object(v, deep=True) for k, v in node.value}


_FastLoader.add_constructor("tag:yaml.org,2002:int", _int)
_FastLoader.add_constructor("tag:yaml.org,2002:map", _mapping)


def parse_plain(text: str, path: Path | str) -> Any:
    """The document as plain dicts, lists and scalars, parsed fast; equal to
    ``to_plain(parse_yaml(text, path))`` (which it falls back to, also for its syntax errors)."""
    if "%YAML" not in text:
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            pass
    return to_plain(parse_yaml(text, path))


def line_of(node: Any, loc: tuple) -> int:
    """Best line number for a pydantic error location inside a ruamel tree (1-based)."""
    line = 1
    current = node
    for i, part in enumerate(loc):
        if isinstance(current, CommentedMap):
            if part in current:
                try:
                    line = current.lc.key(part)[0] + 1
                except (KeyError, TypeError):
                    pass
                current = current[part]
                continue
            if isinstance(part, str) and i < len(loc) - 1:
                continue  # a union tag pydantic puts in the location ('record_count'), not a YAML key
            line = current.lc.line + 1 if current.lc.line is not None else line
            break
        if isinstance(current, CommentedSeq) and isinstance(part, int) and part < len(current):
            try:
                line = current.lc.item(part)[0] + 1
            except (KeyError, TypeError):
                pass
            current = current[part]
            continue
        break
    return line


def to_plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [to_plain(v) for v in node]
    return node


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}'"
    if kind == "missing":
        return f"missing required field '{loc}'"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{loc}: {msg}" if loc else msg


def validation_problems(exc: ValidationError, tree: Any, path: Path | str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        problems.append(Problem(str(path), line_of(tree, loc), _describe(err)))
    return problems


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the candidate closest to ``name`` (``""`` when none is close)."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: str, known: Iterable[str], label: str, where: str = "") -> str:
    """``unknown <kind> 'name'<where> (<label>: a, b); did you mean 'x'?`` — one wording for every
    reference to something that does not exist."""
    names = sorted(set(known))
    return f"unknown {kind} {name!r}{where} ({label}: {', '.join(names) or 'none'})" + did_you_mean(name, names)


def load_model_text(model: type[M], text: str, path: Path | str, extra: dict | None = None) -> M:
    """The model; the round-trip tree (for line numbers) is parsed only when validation fails."""
    data = parse_plain(text, path)
    if not isinstance(data, dict):
        return load_model_text_and_tree(model, text, path, extra)[0]  # raises, naming what it got
    try:
        return model.model_validate({**data, **(extra or {})})
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, parse_yaml(text, path), path)) from None


def load_model_text_and_tree(
    model: type[M], text: str, path: Path | str, extra: dict | None = None
) -> tuple[M, CommentedMap]:
    """The model and the ruamel tree it came from (for :func:`line_of` in later checks)."""
    tree = parse_yaml(text, path)
    if not isinstance(tree, CommentedMap):
        raise SpecError.single(path, 1, f"expected a mapping at the top of the file, got {type(tree).__name__}")
    data = to_plain(tree)
    if extra:
        data.update(extra)
    try:
        return model.model_validate(data), tree
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, tree, path)) from None


def load_model(model: type[M], path: Path) -> M:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError.single(path, 1, f"cannot read file: {exc.strerror}") from None
    return load_model_text(model, text, path)


def load_model_and_tree(model: type[M], path: Path) -> tuple[M, CommentedMap]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError.single(path, 1, f"cannot read file: {exc.strerror}") from None
    return load_model_text_and_tree(model, text, path)
