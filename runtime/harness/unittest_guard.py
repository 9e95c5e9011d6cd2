"""The run's guard for the unittest and Django runners: loaded at interpreter start-up, before
any code of the repository under test.

unittest has no plugins, so the guard comes in through Python's own start-up: the grader
writes it, per run, as a module with a random name in a random folder, with a two-line
``sitecustomize.py`` beside it that imports it (and then the image's own ``sitecustomize``,
which it shadows), and puts that folder first on ``PYTHONPATH``. Every Python process of the
test command loads it; only one that runs tests writes results:

- at start-up it keeps ``sys.exit`` and ``os._exit`` as they are, registers its exit handler
  (first registered, so it runs last, after any the code under test adds) and waits for
  ``unittest`` to be imported (a finder first on ``sys.meta_path``: a process that never
  imports unittest pays nothing more). When unittest is imported it wraps ``TestCase.run``
  and ``TestCase.subTest`` and records what unittest's result machinery is (``snapshot``):
  the functions and classes of ``unittest.case``, ``result``, ``runner``, ``suite``,
  ``loader``, ``main`` and ``signals`` (``TestResult.addSuccess``/``addFailure``/...,
  ``TextTestResult``, ``TextTestRunner``, ``_Outcome``, ``TestProgram``);
- it records each test's outcome from the call itself: for the run of a test, the test
  method is wrapped on the instance, so the guard sees whether the method (and each
  ``subTest`` block) raised, whatever result object unittest then tells;
- when the process ends (its exit handler; in a ``multiprocessing`` worker, such as
  Django's parallel runner's, a finalizer the worker runs on its way out) it checks that the
  machinery is what it was, and that its functions are unittest's own code, and appends one
  line ``{"key", "pid", "tests", "tampering", "complete"}`` of JSON to the result path, with
  the per-run key the grader chose. The graders read every line (``tamper.guard_problems``,
  the eval_script's judge): a test the log says passed must have passed for some guard.

A process that ends before its exit handler (``os._exit``, a kill) writes nothing, so its
tests have no witness. The guard stays on ``PYTHONPATH`` for the processes a test process
starts (spawned multiprocessing workers need it); one of them that runs tests reports them
too. Standard library only; Python 3.6+ (an older Python cannot load it: its runs read as
tampered). The grader fills in the two constants below. A patch written against this guard in
particular is not contained.
"""

import atexit
import os
import sys
import types

RESULT_PATH = "@RESULT_PATH@"
KEY = "@KEY@"

_MODULES = ("unittest.case", "unittest.result", "unittest.runner", "unittest.suite",
            "unittest.loader", "unittest.main", "unittest.signals")
_CALLABLE = (types.FunctionType, types.BuiltinFunctionType, classmethod, staticmethod,
             property, type)
_RANK = {"PASSED": 0, "XFAIL": 0, "SKIPPED": 1, "FAILED": 2, "ERROR": 2}
_CO_COROUTINE = 0x80


def _identity(value):
    """What must not change about an attribute: the object, and for a function its code."""
    inner = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
    return (id(value), id(getattr(inner, "__code__", None)))


def _code_file(value):
    inner = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
    for _ in range(8):  # a decorated function (contextmanager): the function it wraps
        wrapped = getattr(inner, "__wrapped__", None)
        if not isinstance(wrapped, types.FunctionType):
            break
        inner = wrapped
    code = getattr(inner, "__code__", None)
    return None if code is None else code.co_filename


def snapshot():
    """name -> (identity, value) of every function and class attribute of unittest's
    machinery; a class's ``__dict__`` entry holds the names of its callable members."""
    taken = {}
    for name in _MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if not isinstance(value, _CALLABLE):
                continue
            where = "%s.%s" % (name, attr)
            taken[where] = (_identity(value), value)
            if isinstance(value, type) and value.__module__ == name:
                members = [(k, v) for k, v in list(vars(value).items()) if isinstance(v, _CALLABLE)]
                for key, member in members:
                    taken["%s.%s" % (where, key)] = (_identity(member), member)
                taken[where + ".__dict__"] = (tuple(sorted(k for k, _ in members)), None)
    return taken


def changed(before, own_folder):
    """What differs from ``before``, and members that are not unittest's (or this guard's)
    code, as evidence lines."""
    after = snapshot()
    found = []
    for name, (identity, _) in sorted(before.items()):
        now = after.get(name)
        if now is None:
            found.append("%s was removed" % name)
        elif now[0] != identity:
            if name.endswith(".__dict__"):
                found.append("%s gained %s / lost %s" % (
                    name[:-len(".__dict__")], sorted(set(now[0]) - set(identity)),
                    sorted(set(identity) - set(now[0]))))
            else:
                found.append("%s was replaced or changed" % name)
    for name, (_, value) in sorted(before.items()):
        path = _code_file(value)
        if (value is not None and path is not None and name.count(".") > 2
                and not path.startswith(own_folder) and path != __file__):
            found.append("%s is not unittest's own code (%s)" % (name, path))
    return found


class _Record(object):
    """One run of one test, as the guard saw it."""

    __slots__ = ("called", "raised", "sub_failed", "expecting")

    def __init__(self, expecting):
        self.called, self.raised, self.sub_failed, self.expecting = False, None, False, expecting

    def outcome(self, skip_type, failure_type):
        """PASSED, XFAIL, SKIPPED, FAILED or ERROR; None when the test method never ran. A
        test that passed under ``expectedFailure`` counts as PASSED (the report may be
        stricter, never kinder)."""
        if not self.called:
            return None
        failed = self.sub_failed or (self.raised is not None
                                     and not isinstance(self.raised, skip_type))
        if self.expecting:
            return "XFAIL" if failed else "PASSED"
        if failed:
            wrong = self.raised is None or isinstance(self.raised, failure_type)
            return "FAILED" if wrong else "ERROR"
        return "SKIPPED" if self.raised is not None else "PASSED"


class _Guard(object):
    """The guard's records for this process, kept off the module's namespace."""

    def __init__(self):
        self.exits = {"sys.exit": _identity(sys.exit), "os._exit": _identity(os._exit)}
        self.before = None
        self.own_folder = None
        self.tampering = []
        self.tests = {}
        self.records = {}  # id(test case) -> its _Record while it runs
        self.pid = None  # the process whose tests ``tests`` holds
        self.written = None
        self.skip_type = self.run = self.test_id = None

    def arm(self):
        """The first test of this process: from now on, this process must report."""
        if self.pid == os.getpid():
            return
        self.pid, self.tests, self.written = os.getpid(), {}, None
        process = sys.modules.get("multiprocessing")
        if process is not None and process.current_process().name != "MainProcess":
            from multiprocessing import util  # a worker leaves through os._exit, not atexit
            util.Finalize(None, self.report, exitpriority=0)

    def record(self, test, record):
        status = record.outcome(self.skip_type, getattr(test, "failureException", AssertionError))
        if status is None:
            return
        names = [self.test_id(test)]
        try:
            own = test.id()
        except Exception:  # noqa: BLE001 - a test's own id() that fails
            own = None
        if isinstance(own, str) and own != names[0]:
            names.append(own)
        for name in names:
            old = self.tests.get(name)
            if old is None or _RANK[status] >= _RANK[old]:
                self.tests[name] = status

    def report(self):
        """Append this process's line to the result path, once."""
        if self.pid != os.getpid() or self.written == self.pid:
            return
        self.written = self.pid
        found = list(self.tampering)
        now = {"sys.exit": _identity(sys.exit), "os._exit": _identity(os._exit)}
        found += ["%s was replaced" % name for name in sorted(now) if now[name] != self.exits[name]]
        if self.before is not None:
            found += changed(self.before, self.own_folder)
        line = {"key": KEY, "pid": self.pid, "runner": "unittest", "tests": self.tests,
                "tampering": found, "complete": True}
        import json

        fd = os.open(RESULT_PATH, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode("utf-8"))
        finally:
            os.close(fd)


def _witness(method, record):
    """``method`` wrapped so that ``record`` sees whether it raised (awaited, for a coroutine
    test of ``IsolatedAsyncioTestCase``); its attributes (skip, expected failure) kept."""
    inner = getattr(method, "__func__", method)
    code = getattr(inner, "__code__", None)
    if code is not None and code.co_flags & _CO_COROUTINE:
        async def witnessed(*args, **kwargs):
            record.called = True
            try:
                return await method(*args, **kwargs)
            except BaseException as exc:
                record.raised = exc
                raise
    else:
        def witnessed(*args, **kwargs):
            record.called = True
            try:
                return method(*args, **kwargs)
            except BaseException as exc:
                record.raised = exc
                raise
    witnessed.__dict__.update(getattr(inner, "__dict__", {}))
    for attr in ("__name__", "__qualname__", "__doc__"):
        try:
            setattr(witnessed, attr, getattr(inner, attr))
        except (AttributeError, TypeError):
            pass
    witnessed.__wrapped__ = method
    return witnessed


class _SubTest(object):
    """``TestCase.subTest``'s context manager, telling the test's record when its block raised."""

    def __init__(self, inner, record, skip_type):
        self.inner, self.record, self.skip_type = inner, record, skip_type

    def __enter__(self):
        return self.inner.__enter__()

    def __exit__(self, kind, exc, traceback):
        if exc is not None and self.record is not None and not isinstance(exc, self.skip_type):
            self.record.sub_failed = True
        return self.inner.__exit__(kind, exc, traceback)


def _install():
    """Wrap unittest's TestCase, then take the snapshot (so the wrappers are the baseline)."""
    case = sys.modules["unittest.case"]
    test_case = case.TestCase
    run, sub_test = test_case.run, test_case.subTest
    _GUARD.skip_type, _GUARD.test_id = case.SkipTest, test_case.id
    _GUARD.own_folder = os.path.dirname(case.__file__) + os.sep

    def guarded_run(self, result=None):
        _GUARD.arm()
        name = getattr(self, "_testMethodName", None)
        method = getattr(self, name, None) if isinstance(name, str) else None
        record = _Record(bool(getattr(method, "__unittest_expecting_failure__", False)
                              or getattr(self, "__unittest_expecting_failure__", False)))
        slot = getattr(self, "__dict__", None)
        ours = None
        if method is not None and slot is not None and name not in slot:
            ours = slot[name] = _witness(method, record)
        _GUARD.records[id(self)] = record
        try:
            return run(self, result)
        finally:
            _GUARD.records.pop(id(self), None)
            if ours is not None and slot.get(name) is ours:
                del slot[name]
            _GUARD.record(self, record)

    def guarded_sub_test(self, *args, **kwargs):
        return _SubTest(sub_test(self, *args, **kwargs), _GUARD.records.get(id(self)),
                        _GUARD.skip_type)

    for wrapper, original in ((guarded_run, run), (guarded_sub_test, sub_test)):
        wrapper.__name__, wrapper.__doc__ = original.__name__, original.__doc__
        wrapper.__qualname__ = "TestCase." + original.__name__
    test_case.run, test_case.subTest = guarded_run, guarded_sub_test
    _GUARD.before = snapshot()


class _Loader(object):
    """unittest's own loader, then ``_install`` once the package has run."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _Watch)]
        _install()


class _Watch(object):
    """First on ``sys.meta_path`` until unittest is imported: finds it as the other finders
    would, with ``_Loader`` around its loader (runpy asks for the spec of ``-m unittest``
    before it imports the package: the finder stays until the package has run)."""

    def find_spec(self, name, path=None, target=None):
        if name != "unittest":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def chain():
    """Run the ``sitecustomize`` this guard's folder shadows (Debian's, a venv's), if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    for finder in sys.meta_path:
        if getattr(finder, "__name__", "") == "PathFinder":
            spec = finder.find_spec("sitecustomize", rest)
            if spec is not None and spec.loader is not None:
                module = types.ModuleType("sitecustomize")
                module.__file__, module.__spec__ = spec.origin, spec
                spec.loader.exec_module(module)
            return


_GUARD = _Guard()
if "unittest.case" in sys.modules:  # imported before start-up ended (a .pth file)
    _install()
else:
    sys.meta_path.insert(0, _Watch())
atexit.register(_GUARD.report)
