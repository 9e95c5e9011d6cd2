"""The ``str_replace_editor`` tool with OpenHands / SWE-agent semantics, acting through a Sandbox.

Files are read and written only through ``Sandbox.read_file``/``write_file``; one short
``execute`` per call finds out whether a path is a file or a folder (and a file's mode, so that
an edit keeps an executable script executable). The messages are those the OpenHands editor
gives, so that trajectories read like the ones models were trained on.
"""

from __future__ import annotations

import shlex
from typing import Any

from swegc.runtime.sandbox import Sandbox

SNIPPET_LINES = 4  # lines shown around an edit
PROBE_TIMEOUT_S = 30


class EditorError(Exception):
    """The command cannot be done as asked; the message is the tool's answer to the model."""


def _numbered(text: str, first_line: int = 1) -> str:
    return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(text.split("\n"), first_line))


class Editor:
    """One editor per rollout: it remembers each file's earlier contents for ``undo_edit``."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.history: dict[str, list[str | None]] = {}  # path -> contents before each edit (None: absent)

    def __call__(self, arguments: dict[str, Any]) -> str:
        try:
            return self._run(**arguments)
        except EditorError as exc:
            return f"ERROR:\n{exc}"

    def _run(self, command: str, path: str, file_text: str | None = None,
             old_str: str | None = None, new_str: str | None = None,
             insert_line: int | None = None, view_range: list[int] | None = None) -> str:
        if not path.startswith("/"):
            raise EditorError(f"The path {path} is not an absolute path, it should start with `/`. "
                              f"Maybe you meant /testbed/{path.lstrip('./')}?")
        kind, mode = self._probe(path)
        if command == "create":
            if kind != "missing":
                raise EditorError(f"File already exists at: {path}. Cannot overwrite files using "
                                  "command `create`.")
            if file_text is None:
                raise EditorError("Parameter `file_text` is required for command: create.")
            self._write(path, file_text, None)
            self.history.setdefault(path, []).append(None)
            return f"File created successfully at: {path}"
        if kind == "missing":
            raise EditorError(f"The path {path} does not exist. Please provide a valid path.")
        if kind == "dir":
            if command != "view":
                raise EditorError(f"The path {path} is a directory and only the `view` command "
                                  "can be used on directories.")
            if view_range:
                raise EditorError("The `view_range` parameter is not allowed when `path` points "
                                  "to a directory.")
            return self._list(path)
        if kind != "file":
            raise EditorError(f"The path {path} is not a regular file.")
        if command == "view":
            return self._view(path, view_range)
        if command == "str_replace":
            if old_str is None:
                raise EditorError("Parameter `old_str` is required for command: str_replace.")
            return self._str_replace(path, mode, old_str, new_str or "")
        if command == "insert":
            if insert_line is None:
                raise EditorError("Parameter `insert_line` is required for command: insert.")
            if new_str is None:
                raise EditorError("Parameter `new_str` is required for command: insert.")
            return self._insert(path, mode, insert_line, new_str)
        if command == "undo_edit":
            return self._undo(path, mode)
        raise EditorError(f"Unrecognized command {command}. The allowed commands are: view, "
                          "create, str_replace, insert, undo_edit.")

    # -- reading and writing through the sandbox ---------------------------------------------

    def _probe(self, path: str) -> tuple[str, str]:
        quoted = shlex.quote(path)
        script = (f"if [ -d {quoted} ]; then echo dir; elif [ -f {quoted} ]; then "
                  f"echo file $(stat -c %a {quoted}); elif [ -e {quoted} ]; then echo other; "
                  "else echo missing; fi")
        words = self.sandbox.execute(script, timeout_s=PROBE_TIMEOUT_S).output.split()
        kind = words[0] if words and words[0] in ("dir", "file", "other", "missing") else "missing"
        return kind, (words[1] if kind == "file" and len(words) > 1 else "644")

    def _read(self, path: str) -> str:
        try:
            data = self.sandbox.read_file(path)
        except FileNotFoundError:
            raise EditorError(f"The path {path} does not exist. Please provide a valid path.") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise EditorError(f"The file {path} is not UTF-8 text; use bash to inspect it.") from None

    def _write(self, path: str, text: str, mode: str | None) -> None:
        self.sandbox.write_file(path, text.encode("utf-8"))
        if mode and mode != "644":
            self.sandbox.execute(f"chmod {mode} {shlex.quote(path)}", timeout_s=PROBE_TIMEOUT_S)

    def _edit(self, path: str, mode: str, before: str, after: str) -> None:
        self._write(path, after, mode)
        self.history.setdefault(path, []).append(before)

    # -- commands ----------------------------------------------------------------------------

    def _list(self, path: str) -> str:
        quoted = shlex.quote(path)
        result = self.sandbox.execute(
            f"find {quoted} -maxdepth 2 -not -path '*/.*' | sort", timeout_s=PROBE_TIMEOUT_S)
        return (f"Here's the files and directories up to 2 levels deep in {path}, excluding "
                f"hidden items:\n{result.output.rstrip()}\n")

    def _view(self, path: str, view_range: list[int] | None) -> str:
        text = self._read(path)
        lines = text.split("\n")
        if not view_range:
            return f"Here's the result of running `cat -n` on {path}:\n{_numbered(text)}\n"
        if len(view_range) != 2:
            raise EditorError("Invalid `view_range`. It should be a list of two integers.")
        start, end = view_range
        if not 1 <= start <= len(lines):
            raise EditorError(f"Invalid `view_range`: {view_range}. Its first element `{start}` "
                              f"should be within the range of lines of the file: [1, {len(lines)}].")
        if end == -1:
            end = len(lines)
        if end < start or end > len(lines):
            raise EditorError(f"Invalid `view_range`: {view_range}. Its second element `{end}` "
                              f"should be -1 or within [{start}, {len(lines)}].")
        shown = "\n".join(lines[start - 1:end])
        return f"Here's the result of running `cat -n` on {path}:\n{_numbered(shown, start)}\n"

    def _snippet(self, path: str, text: str, first_changed: int, n_changed: int) -> str:
        lines = text.split("\n")
        start = max(0, first_changed - SNIPPET_LINES)
        end = min(len(lines), first_changed + n_changed + SNIPPET_LINES)
        shown = "\n".join(lines[start:end])
        return (f"The file {path} has been edited. Here's the result of running `cat -n` on a "
                f"snippet of {path}:\n{_numbered(shown, start + 1)}\n"
                "Review the changes and make sure they are as expected. Edit the file again if "
                "necessary.")

    def _str_replace(self, path: str, mode: str, old_str: str, new_str: str) -> str:
        text = self._read(path)
        count = text.count(old_str) if old_str else 0
        if count == 0:
            raise EditorError(f"No replacement was performed, old_str `{old_str}` did not appear "
                              f"verbatim in {path}.")
        if count > 1:
            starts = [i for i in range(len(text)) if text.startswith(old_str, i)]
            lines = [text.count("\n", 0, i) + 1 for i in starts]
            raise EditorError(f"No replacement was performed. old_str `{old_str}` matched {count} "
                              f"times, in lines {lines}. Please ensure it is unique.")
        index = text.index(old_str)
        after = text.replace(old_str, new_str, 1)
        self._edit(path, mode, text, after)
        return self._snippet(path, after, text.count("\n", 0, index), new_str.count("\n") + 1)

    def _insert(self, path: str, mode: str, insert_line: int, new_str: str) -> str:
        text = self._read(path)
        lines = text.split("\n")
        if not 0 <= insert_line <= len(lines):
            raise EditorError(f"Invalid `insert_line` parameter: {insert_line}. It should be "
                              f"within the range of lines of the file: [0, {len(lines)}].")
        new_lines = new_str.split("\n")
        after = "\n".join(lines[:insert_line] + new_lines + lines[insert_line:])
        self._edit(path, mode, text, after)
        return self._snippet(path, after, insert_line, len(new_lines))

    def _undo(self, path: str, mode: str) -> str:
        stack = self.history.get(path)
        if not stack:
            raise EditorError(f"No edit history found for {path}.")
        before = stack.pop()
        if before is None:  # the edit was the file's creation
            self.sandbox.execute(f"rm -f {shlex.quote(path)}", timeout_s=PROBE_TIMEOUT_S)
            return f"Last edit to {path} undone successfully (the file it created was removed)."
        self._write(path, before, mode)
        return (f"Last edit to {path} undone successfully. Here's the result of running `cat -n` "
                f"on {path}:\n{_numbered(before)}\n")
