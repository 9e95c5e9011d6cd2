"""Click options shared by the packages' commands, most of them made from configuration dataclasses.

A command that fills a typed configuration (``Hyper``, ``RolloutOptions``, ``PolicyOptions``,
...) does not restate its fields in click, as TRL does not: ``dataclass_options`` makes one
option per field, ``--field-name`` with the field's type, its default and, as help, the
docstring written under the field (the configuration's own documentation, so the help cannot
drift from it). Where the command line differs on purpose (a short name such as ``--lr``, a
path that must exist, a default that the command fills in later) a ``FieldOption`` says so.
``from_options`` builds the dataclass back from the values click parsed.

The options that choose where units run (``--executor``, ``--ray-address``) are shared by
compile, rollout and evaluate and live here too.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from swegc.executors import EXECUTORS

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")
_FROM_FIELD: Any = object()  # a FieldOption that keeps the field's own default


@dataclasses.dataclass(frozen=True)
class FieldOption:
    """How one field's option differs from what the field's declaration gives."""

    flag: str = ""
    """The option's name(s) instead of ``--field-name``: ``--lr``, or ``--lora/--full`` for a bool."""
    type: click.ParamType | None = None
    """A click type instead of the annotation's (a path that must exist, a range); the option
    then takes one value."""
    default: Any = _FROM_FIELD
    """The command line's default where the command fills the field in itself."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under the field in ``cls``'s source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for field, doc in zip(body, body[1:]):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)):
            docs[field.target.id] = inspect.cleandoc(doc.value.value)
    return docs


def _help(cls: type, name: str) -> str:
    doc = field_docs(cls).get(name)
    if not doc:
        raise TypeError(f"{cls.__name__}.{name} has no docstring; document the field (it is the "
                        "option's help)")
    return re.sub(r"``(.+?)``", r"\1", doc)  # reStructuredText literals read plain in a terminal


def _click_type(hint: Any) -> tuple[click.ParamType | None, bool]:
    """The click type of an annotation, and whether the option repeats (a tuple of values).
    ``None`` for a bool, which becomes an on/off flag."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        given = [a for a in args if a is not type(None)]
        if len(given) == 1:
            return _click_type(given[0])
    elif origin is typing.Literal:
        return click.Choice([str(a) for a in args]), False
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _click_type(args[0])[0], True
    elif hint is bool:
        return None, False
    elif hint in (int, float, str):
        return {int: click.INT, float: click.FLOAT, str: click.STRING}[hint], False
    elif hint is Path:
        return click.Path(path_type=Path), False
    raise TypeError(f"no command-line type for {hint!r}; give the field a FieldOption(type=...)")


def _option(cls: type, field: dataclasses.Field[Any], hint: Any, how: FieldOption) -> Callable[[F], F]:
    if how.default is not _FROM_FIELD:
        default = how.default
    elif field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = _FROM_FIELD
    kind, multiple = (how.type, False) if how.type is not None else _click_type(hint)
    dashed = "--" + field.name.replace("_", "-")
    flag = how.flag or (f"{dashed}/--no-{dashed[2:]}" if kind is None else dashed)
    settings: dict[str, Any] = {"help": _help(cls, field.name), "multiple": multiple}
    if kind is not None:
        settings["type"] = kind
    if default is _FROM_FIELD:
        settings["required"] = True
    else:
        settings["default"] = default
        settings["show_default"] = default not in (None, "", ())
    return click.option(flag, field.name, **settings)


def dataclass_options(cls: type, *, only: Sequence[str] | None = None, skip: Collection[str] = (),
                      fields: Mapping[str, FieldOption] | None = None) -> Callable[[F], F]:
    """A decorator that adds an option for each field of ``cls`` in declaration order (or for
    ``only`` those, in that order), except ``skip``; ``fields`` changes the options of the
    fields it names. Each option's value reaches the command under the field's name."""
    hints = typing.get_type_hints(cls)
    declared = {f.name: f for f in dataclasses.fields(cls)}
    unknown = (set(only or ()) | set(skip) | set(fields or {})) - set(declared)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    chosen = [declared[name] for name in (declared if only is None else only) if name not in skip]
    options = [_option(cls, f, hints[f.name], (fields or {}).get(f.name, FieldOption()))
               for f in chosen]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def from_options(cls: type[C], values: dict[str, Any], **given: Any) -> C:
    """``cls`` from the parsed option values named after its fields, which are taken out of
    ``values`` (so that what is left belongs to other configurations); ``given`` fills the
    fields that are not options (a nested configuration, a value the command computed)."""
    names = {f.name for f in dataclasses.fields(cls)} - set(given)  # type: ignore[arg-type]
    return cls(**{name: values.pop(name) for name in sorted(names & set(values))}, **given)


def executor_options(command: F) -> F:
    """``--executor local|ray`` and ``--ray-address``."""
    command = click.option(
        "--ray-address", default=None, metavar="ADDRESS",
        help="Ray cluster to run on (HOST:PORT of `ray start --head`, or auto); without it "
             "--executor ray starts a cluster on this machine.")(command)
    return click.option(
        "--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
        help="Where units run: threads here, or tasks on a Ray cluster (pip install "
             "'swegc[ray]').")(command)
