"""Load YAML into plain Python values while remembering the line of every key and item.

PyYAML's ``safe_load`` throws positions away, but every spec error must name its file and
line. So we compose the node graph (which keeps marks) and build the values ourselves,
recording ``"dotted.path" -> line`` as we go (``"environments.2.python" -> 14``).

Two deliberate differences from ``safe_load``, both to make spec mistakes visible:
- mapping keys are always the text as written (``3.10:`` is the key ``"3.10"``, not the
  float 3.1), because every key in a spec is a name;
- a key given twice in one mapping is reported (``duplicates``) instead of the later one
  silently winning.
Dates and timestamps become ISO strings, so ``since: 2023-01-01`` needs no quotes.
The source text of every non-string scalar value is kept (``raw``), so an error can say
"you wrote 3.10, which YAML reads as the number 3.1".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from swegc.nesting import MAX_DEPTH, TOO_DEEP

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases are expanded into values; nested anchors can make a few hundred bytes expand into
# billions of values (a "billion laughs" alias bomb). No spec comes near this many.
MAX_VALUES = 100_000


class YamlSyntaxError(ValueError):
    """The text is not YAML; ``line`` is 1-based (0 when PyYAML gave no position)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class LoadedYaml:
    """Plain values plus where each came from (1-based lines, keyed by dotted path)."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # dotted path -> text of a non-str scalar
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)  # (path, line, first)


def join(path: str, key: str | int) -> str:
    """The dotted path of a child: ``join("environments", 2) == "environments.2"``."""
    return f"{path}.{key}" if path else str(key)


def load_yaml(text: str) -> LoadedYaml:
    """Parse one YAML document; raises ``YamlSyntaxError`` with the line of the mistake."""
    loader = _DepthLimitedLoader(text)
    try:
        return _load(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        parts = [p for p in (exc.context, exc.problem) if p]
        raise YamlSyntaxError(line, "invalid YAML: " + ", ".join(parts)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(0, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


class _DepthLimitedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses lists and mappings nested deeper than
    ``MAX_DEPTH``: it recurses once per level, so a deep document would end in
    ``RecursionError`` instead of an error at its line."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        opens = int(self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if opens and self.depth >= MAX_DEPTH:
            raise yaml.MarkedYAMLError(problem=TOO_DEEP, problem_mark=self.peek_event().start_mark)
        self.depth += opens
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= opens


def _load(loader: yaml.SafeLoader) -> LoadedYaml:
    node = loader.get_single_node()
    result = LoadedYaml(data=None)
    if node is not None:
        result.lines[""] = node.start_mark.line + 1
        result.data = _Builder(loader, result).build(node, "")
    return result


class _Builder:
    """Turns composed nodes into values, filling the ``LoadedYaml`` tables on the way."""

    def __init__(self, loader: yaml.SafeLoader, out: LoadedYaml):
        self.loader = loader
        self.out = out
        self.active: set[int] = set()  # node ids on the current path (recursive aliases)
        self.values = 0

    def build(self, node: yaml.Node, path: str) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise yaml.MarkedYAMLError(
                problem=f"aliases expand to more than {MAX_VALUES:,} values (nested anchors "
                        "used as an alias bomb?); write the values out or use fewer aliases",
                problem_mark=node.start_mark)
        if id(node) in self.active:
            raise yaml.MarkedYAMLError(problem="a recursive alias", problem_mark=node.start_mark)
        # Every node on the path is a list or mapping; aliases can stack nesting the
        # composer never saw, and building recurses once per level.
        if isinstance(node, yaml.CollectionNode) and len(self.active) >= MAX_DEPTH:
            raise yaml.MarkedYAMLError(problem=f"once its aliases are expanded, {TOO_DEEP}",
                                       problem_mark=node.start_mark)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.Node, path: str) -> Any:
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if not isinstance(value, str) and path:
            self.out.raw[path] = str(node.value)
        return value

    def _sequence(self, node: yaml.SequenceNode, path: str) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            child_path = join(path, index)
            self.out.lines[child_path] = child.start_mark.line + 1
            items.append(self.build(child, child_path))
        return items

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(_merge_sources(value_node))
                continue
            key = _key_text(key_node)
            line = key_node.start_mark.line + 1
            child_path = join(path, key)
            if key in first_line:
                self.out.duplicates.append((child_path, line, first_line[key]))
            first_line[key] = line
            self.out.lines[child_path] = line
            result[key] = self.build(value_node, child_path)
        for source in merged:  # "<<: *anchor": keys written here win over merged ones
            for key_node, value_node in source.value:
                key = _key_text(key_node)
                if key not in result:
                    child_path = join(path, key)
                    self.out.lines[child_path] = key_node.start_mark.line + 1
                    result[key] = self.build(value_node, child_path)
        return result


def _key_text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    raise yaml.MarkedYAMLError(problem="a mapping key must be a plain name, not a list or "
                               "mapping", problem_mark=node.start_mark)


def _merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in node.value):
        return list(node.value)
    raise yaml.MarkedYAMLError(problem="'<<' merges a mapping or a list of mappings",
                               problem_mark=node.start_mark)


def dotted(parts: tuple[str | int, ...]) -> str:
    """The lookup key of a value: ``("environments", 2, "python")`` -> ``environments.2.python``."""
    return ".".join(str(part) for part in parts)


def label(parts: tuple[str | int, ...]) -> str:
    """How a user reads a path in a message: ``environments[2].python``, ``base_images["3.10"]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or " " in part or not part:
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else part
    return text
