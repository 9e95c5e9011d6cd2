"""Which directives (changed test files or case names passed to the test command) produced no
test result.

A changed test file that runs no test is a silent gap: its tests are in neither FAIL_TO_PASS
nor PASS_TO_PASS, and nothing says so. Validation asks this module, after the runs, which of
an instance's directives no test id of the after runs belongs to, and the compile warns about
them. Test ids are read as the parsers write them:

- ``pytest``: ``path::Class::test[param]``, or the file itself for a collection error;
- ``unittest``: dotted ``pkg.mod.Class.test``; ``django``: ``test (pkg.mod.Class)``, where
  Django's labels may drop a leading folder (``tests/admin/tests.py`` runs as ``admin.tests``).

Other parsers (``regex``) name tests freely, so nothing can be said for them (``None``).

Case names (``tests.directives.cases``) are looked for in each id's last part: pytest's
``path::Suite::file.test::testFoo``, unittest's ``pkg.mod.Class.testFoo``, Django's
``testFoo (pkg.mod.Class)``, or a parametrized pytest test's parameter id
(``test_case[testFoo]``). A case ran when its name begins one of them (a suite may add a
suffix, as mypy's ``testFoo_cached``); pytest's ``-k`` matches more loosely still (any part
of the id that contains the name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_DJANGO_ID = re.compile(r"^\S+ \((?P<target>[^)]+)\)")
KNOWN_PARSERS = ("pytest", "unittest", "django")


def directives_without_results(directives: Sequence[str], test_ids: Iterable[str],
                               parser: str, kind: str = "files") -> list[str] | None:
    """The directives no test id belongs to, in order; None when ``parser``'s ids are unknown.
    ``kind``: ``files`` (paths or modules) or ``cases`` (test-case names)."""
    if parser not in KNOWN_PARSERS:
        return None
    ids = list(test_ids)
    if kind == "cases":
        names = {name for test_id in ids for name in _own_names(test_id, parser)}
        return [d for d in directives if not any(n.startswith(d) for n in names)]
    if parser == "pytest":
        files = {test_id.split("::", 1)[0] for test_id in ids}
        return [d for d in directives if d not in files]
    targets = [_target(test_id, parser) for test_id in ids]
    return [d for d in directives if not any(_in_module(t, d) for t in targets)]


def _own_names(test_id: str, parser: str) -> tuple[str, ...]:
    """The test's own name without its parents, and a pytest test's parameter id."""
    if parser == "pytest":
        path, bracket, params = test_id.partition("[")
        name = path.rsplit("::", 1)[-1]
        return (name, params[:-1]) if bracket and params.endswith("]") else (name,)
    if parser == "django":
        return (test_id.split(" ", 1)[0],)
    return (test_id.rsplit(".", 1)[-1],)


def _target(test_id: str, parser: str) -> str:
    if parser == "django" and (match := _DJANGO_ID.match(test_id)):
        return match["target"]
    return test_id


def _in_module(target: str, module: str) -> bool:
    """Whether the dotted ``target`` lies in ``module`` or in a label of it without its leading
    folders (of at least two parts, so that a lone ``tests`` matches nothing by accident)."""
    parts = module.split(".")
    labels = [module] + [".".join(parts[i:]) for i in range(1, len(parts) - 1)]
    return any(target == label or target.startswith(label + ".") for label in labels)
