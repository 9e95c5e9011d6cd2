"""The bash side of the persistent shell, and the reader of its answers.

The sandbox's shell reads this protocol on stdin: one line per command,

    __swegc_run TOKEN TIMEOUT CWD COMMAND ENV KEEP_CWD

(each argument shell-quoted). For every command it

- runs COMMAND with ``eval`` in a subshell (a fork, so it sees the shell's working folder,
  variables and functions) with stdin from /dev/null (a command that reads stdin sees end of
  file instead of eating the protocol) and stderr merged into stdout;
- gives that subshell its own process group (``set -m``), so a timeout kills the command and
  everything it started, never the shell. A command ends when every process of its group has
  ended (``server &`` holds the call until the timeout, as it holds a ``docker exec`` whose
  output stays open); what must outlive a call leaves the group: ``setsid server > log 2>&1 &``;
- copies the subshell's working folder and exported variables back into the shell when it ends
  (an EXIT trap, so ``cd x; exit 3`` keeps ``x``). Unexported variables and functions a command
  defines do not persist; per-call ``env`` never does, nor does the folder of a call given ``cwd``;
- prints ``\\nTOKEN:EXIT_CODE:OOM_KILLS\\n``. TOKEN is random per command and removed from the
  subshell before COMMAND runs, so a command cannot print a sentinel that ends itself early.
  OOM_KILLS is the container's cgroup OOM-kill counter, read with builtins only.

The timeout is kept by a watchdog started once with the shell (a process substitution that
reads ``arm PID SECONDS`` / ``disarm`` lines and waits with ``read -t``), so a call forks once,
for the command. The shell uses builtins only between commands (no fork; ``read -t`` on an
idle pipe is its sleep) so it stays usable right after a fork
bomb filled the pids limit. Its own stderr (job notices) is separate from command output.
"""

from __future__ import annotations

import shlex
import struct

STATE = "/dev/shm/.swegc-shell"  # a command leaves its folder and exports here (tmpfs: no disk)

INIT = r"""
set +o history 2>/dev/null
set -m
__swegc_dir=%(state)s
mkdir -p "$__swegc_dir" 2>/dev/null || { __swegc_dir=/tmp/.swegc-shell; mkdir -p "$__swegc_dir"; }
exec {__swegc_tick}<> <(:)
exec {__swegc_wd}> >(
  exec > /dev/null 2>&1
  while read -r __swegc_k __swegc_pid __swegc_t; do
    if [ "$__swegc_k" = arm ] && ! read -r -t "$__swegc_t" __swegc_k; then
      printf "%%s" "$__swegc_pid" > "$__swegc_dir/timeout"
      while kill -KILL -- "-$__swegc_pid"; do read -r -t 0.05 -u "$__swegc_tick"; done
    fi
  done
)
__swegc_oomf=
for __swegc_f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
  if [ -r "$__swegc_f" ]; then __swegc_oomf=$__swegc_f; break; fi
done
__swegc_run() {
  local __swegc_pid __swegc_ec __swegc_line __swegc_k __swegc_v __swegc_oom=0
  local -a __swegc_names
  : > "$__swegc_dir/cwd"; : > "$__swegc_dir/env"; : > "$__swegc_dir/timeout"
  (
    __swegc_cwd=$3 __swegc_cmd=$4 __swegc_env=$5 __swegc_keep=$6
    set --
    set +m
    exec 2>&1
    trap '
      if [ -z "$__swegc_keep" ]; then printf "%%s" "$PWD" > "$__swegc_dir/cwd"; fi
      eval "$__swegc_env_unset"
      set -o posix; export -p > "$__swegc_dir/env"' EXIT
    __swegc_env_unset=
    if [ -n "$__swegc_env" ]; then eval "$__swegc_env"; fi
    if [ -n "$__swegc_cwd" ]; then cd -- "$__swegc_cwd" || exit 1; fi
    unset -v __swegc_cwd __swegc_env
    eval "$__swegc_cmd"
  ) < /dev/null &
  __swegc_pid=$!
  printf 'arm %%s %%s\n' "$__swegc_pid" "$2" >&"$__swegc_wd"
  wait "$__swegc_pid"; __swegc_ec=$?
  while kill -0 -- "-$__swegc_pid" 2>/dev/null; do read -r -t 0.02 -u "$__swegc_tick"; done
  printf 'disarm\n' >&"$__swegc_wd"
  __swegc_line=
  read -r __swegc_line < "$__swegc_dir/timeout"
  if [ -n "$__swegc_line" ] && [ "$__swegc_line" = "$__swegc_pid" ]; then
    __swegc_ec=124
  else
    __swegc_line=
    if read -r __swegc_line < "$__swegc_dir/cwd" || [ -n "$__swegc_line" ]; then
      if [ -n "$__swegc_line" ]; then cd -- "$__swegc_line" 2>/dev/null; fi
    fi
    if [ -s "$__swegc_dir/env" ]; then
      compgen -e > "$__swegc_dir/names" && mapfile -t __swegc_names < "$__swegc_dir/names"
      unset -v "${__swegc_names[@]}" 2>/dev/null
      . "$__swegc_dir/env"
    fi
  fi
  if [ -n "$__swegc_oomf" ]; then
    while read -r __swegc_k __swegc_v; do
      if [ "$__swegc_k" = oom_kill ]; then __swegc_oom=$__swegc_v; fi
    done < "$__swegc_oomf"
  fi
  printf '\n%%s:%%s:%%s\n' "$1" "$__swegc_ec" "$__swegc_oom"
}
""" % {"state": STATE}


def run_line(token: str, command: str, timeout_s: float, cwd: str | None,
             env: dict[str, str] | None) -> bytes:
    """The protocol line that runs ``command`` once."""
    if "\0" in command:
        raise ValueError("a command cannot contain a NUL byte")
    env = env or {}
    for name in env:
        if not name.isidentifier():
            raise ValueError(f"not an environment variable name: {name!r}")
    env_script = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    if env:  # per-call variables are unset again before the exports are saved
        env_script += f"__swegc_env_unset='unset -v {' '.join(env)}'\n"
    args = [token, f"{max(timeout_s, 0.001):.3f}", cwd or "", command, env_script,
            "1" if cwd else ""]
    return ("__swegc_run " + " ".join(shlex.quote(a) for a in args) + "\n").encode(
        "utf-8", errors="surrogateescape")


class OutputCollector:
    """Keeps the head and the tail of a command's output within ``cap`` bytes, counting the rest.

    Bytes are fed as they come; ``feed`` returns True once the end marker ``\\nTOKEN:`` and the
    line after it arrived. What follows the marker line (output of background jobs) is dropped.
    """

    def __init__(self, token: str, cap: int):
        self.marker = b"\n" + token.encode() + b":"
        self.cap = max(cap, 0)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.pending = bytearray()
        self.status: tuple[int, int] | None = None

    def feed(self, data: bytes) -> bool:
        self.pending += data
        at = self.pending.find(self.marker)
        if at < 0:
            keep = len(self.marker) - 1  # a marker split across two reads
            if len(self.pending) > keep:
                self._keep(bytes(self.pending[:len(self.pending) - keep]))
                del self.pending[:len(self.pending) - keep]
            return False
        end = self.pending.find(b"\n", at + len(self.marker))
        if end < 0:
            return False
        self._keep(bytes(self.pending[:at]))
        code, _, ooms = bytes(self.pending[at + len(self.marker):end]).partition(b":")
        self.status = (int(code or b"-1"), int(ooms or b"0"))
        return True

    def _keep(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap // 2 - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - (self.cap - self.cap // 2)
            if excess > 0:
                del self.tail[:excess]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = bytes(self.head).decode("utf-8", errors="replace")
        if not self.truncated:
            return head + bytes(self.tail).decode("utf-8", errors="replace")
        cut = self.total - len(self.head) - len(self.tail)
        note = (f"\n[... {cut} bytes of output cut: {self.total} bytes in all, the first and "
                f"last {self.cap // 2} kept (output_bytes={self.cap}) ...]\n")
        return head + note + bytes(self.tail).decode("utf-8", errors="replace")


class FrameReader:
    """Splits Docker's multiplexed attach stream (8-byte headers) into (stream, payload) pairs."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            stream, size = self.buffer[0], struct.unpack(">I", self.buffer[4:8])[0]
            if len(self.buffer) < 8 + size:
                break
            frames.append((stream, bytes(self.buffer[8:8 + size])))
            del self.buffer[:8 + size]
        return frames
