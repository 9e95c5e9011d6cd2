"""The drafted spec as a value: the document ``swegc draft`` writes, with the reason for each key.

Reading (``draft.reading``) makes one; probing and repair (``draft.probe``) edit it with
``with_edit``; the CLI writes ``to_yaml()``. The reasons are not decoration: a user adjusting a
drafted spec must see why each line says what it says, so each reason is rendered as a YAML
comment above its key, and a repair's reason replaces the reading's one for the key it sets.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# A key's comment is one line: longer reasons wrap onto more comment lines at this width.
_WIDTH = 96
# Scalars safe to write bare: they read back as the same string and need no quotes to a reader.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./@+-]*$")
# Top-level keys in the order a reader expects them (the shipped specs' order); others follow.
_TOP_ORDER = ("repo", "extends", "source", "tests", "version", "environments", "build",
              "instances")
# An environment's keys in the order it is read: which versions, which Python, then the install
# steps as they run. A repair that adds a key lands in its place, not at the end.
_ENV_ORDER = ("versions", "python", "base_image", "apt", "pre_install", "pip", "pip_date",
              "pip_date_exempt", "indexes", "node", "install", "post_install", "build_outputs",
              "prepare", "upgrade_pip", "env")


@dataclass(frozen=True)
class Draft:
    """A drafted spec: the document as its YAML would load, and why each key says what it says.

    ``why`` maps a dotted path (``"environments.0.install"``, ``"tests.command"``; list items by
    index, ``"environments.1"`` for a whole entry) to a one-line reason; ``why[""]`` is the file's
    header. Both are plain data so a repair can copy, compare and edit them freely.
    """

    spec: dict[str, Any]
    why: dict[str, str] = field(default_factory=dict)

    def with_edit(self, path: str, value: Any, why: str) -> Draft:
        """A copy with the key at ``path`` set to ``value`` (list items by index; the index one
        past the end appends) and ``why`` as its reason. Missing mappings on the way are made.
        Reasons under a replaced value are dropped, since they spoke of what is gone."""
        if not path:
            raise ValueError("with_edit needs a dotted path such as 'environments.0.pip'")
        spec = copy.deepcopy(self.spec)
        parts = path.split(".")
        node: Any = spec
        for index, part in enumerate(parts[:-1]):
            following = parts[index + 1]
            node = _child(node, part, make_list=following.isdigit())
        _set(node, parts[-1], copy.deepcopy(value))
        prefix = path + "."
        reasons = {k: v for k, v in self.why.items() if not k.startswith(prefix)}
        reasons[path] = why
        return Draft(spec, reasons)

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a dotted path, or ``default`` where there is none."""
        node: Any = self.spec
        for part in path.split(".") if path else []:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node

    def to_yaml(self) -> str:
        """The spec file: block YAML, each key (and each environment) under its reason."""
        lines: list[str] = []
        if self.why.get(""):
            lines += _comment(self.why[""], "")
        for key, value in _ordered(self.spec, _TOP_ORDER):
            lines += self._entry(key, value, key, "")
        return "\n".join(lines) + "\n"

    # ---- rendering ---------------------------------------------------------------------

    def _entry(self, key: str, value: Any, path: str, indent: str) -> list[str]:
        lines = _comment(self.why.get(path, ""), indent)
        head = f"{indent}{_key(key)}:"
        if isinstance(value, dict) and value:
            lines.append(head)
            for child, item in value.items():
                lines += self._entry(str(child), item, f"{path}.{child}", indent + "  ")
        elif isinstance(value, list) and value and not _flow_ok(value):
            lines.append(head)
            for index, item in enumerate(value):
                lines += self._item(item, f"{path}.{index}", indent + "  ")
        else:
            lines.append(f"{head} {_scalar_or_flow(value)}")
        return lines

    def _item(self, value: Any, path: str, indent: str) -> list[str]:
        lines = _comment(self.why.get(path, ""), indent)
        if isinstance(value, dict) and value:
            first = True
            for child, item in _ordered(value, _ENV_ORDER):
                sub = self._entry(str(child), item, f"{path}.{child}", indent + "  ")
                if first:
                    # The first key's reason joins the item's, above the dash; the key follows it.
                    at = next(i for i, line in enumerate(sub) if not line.lstrip().startswith("#"))
                    lines += [line[2:] for line in sub[:at]]
                    sub = [f"{indent}- {sub[at][len(indent) + 2:]}", *sub[at + 1:]]
                    first = False
                lines += sub
            return lines
        return lines + [f"{indent}- {_scalar_or_flow(value)}"]


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Known keys in ``order``, then the rest as they were added."""
    rank = {key: index for index, key in enumerate(order)}
    return sorted(mapping.items(), key=lambda item: rank.get(item[0], len(order)))


def _child(node: Any, part: str, *, make_list: bool) -> Any:
    fresh: Any = [] if make_list else {}
    if isinstance(node, list):
        index = int(part)
        if index == len(node):
            node.append(fresh)
        return node[index]
    if not isinstance(node.get(part), (dict, list)):
        node[part] = fresh
    return node[part]


def _set(node: Any, part: str, value: Any) -> None:
    if isinstance(node, list):
        index = int(part)
        if index == len(node):
            node.append(value)
        else:
            node[index] = value
    else:
        node[part] = value


def _comment(text: str, indent: str) -> list[str]:
    words = " ".join(text.split())
    if not words:
        return []
    lines: list[str] = []
    current = ""
    for word in words.split(" "):
        if current and len(indent) + 2 + len(current) + 1 + len(word) > _WIDTH:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return [f"{indent}# {line}" for line in lines]


def _key(key: str) -> str:
    return key if _PLAIN.match(key) and _reads_back(key) else _quoted(key)


def _flow_ok(value: list[Any]) -> bool:
    """Short lists of scalars read best on one line: ``pip: ["pytest==7.4.4"]``."""
    if any(isinstance(item, (dict, list)) for item in value):
        return False
    return len(_scalar_or_flow(value)) <= 72


def _scalar_or_flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar_or_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))}: {_scalar_or_flow(v)}"
                               for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and _reads_back(text):
        return text
    return _quoted(text)


def _quoted(text: str) -> str:
    """Double quotes as the shipped specs write them; single quotes where that needs no
    escapes (regexes, commands with quotes stay readable); else JSON's escaped double quotes."""
    if text.isprintable() and not any(c in text for c in '"\\'):
        return f'"{text}"'
    if text.isprintable() and "'" not in text:
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def _reads_back(text: str) -> bool:
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False
