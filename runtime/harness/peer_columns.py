"""The columns that the field's own tools read, computed from a swegc instance row.

With these merged into a row that carries its image columns, the dataset runs unchanged in:

- mini-swe-agent 2.4.x (SWE-bench runner) and SkyRL, rLLM, R2E-Gym: the image comes from
  ``image_name``, else ``docker_image``; SkyRL's verdict is ``eval_script``'s exit status;
- SWE-bench 5.x (``swebench.harness.run_evaluation``): it reads ``image`` (looked up locally with
  ``docker images get``, pulled only when missing), ``eval_script`` (run as ``/bin/bash
  /eval.sh`` in ``/testbed`` after the prediction was applied, under ``set -uxo pipefail``),
  ``eval_type`` (``pass_and_fail``: every FAIL_TO_PASS and PASS_TO_PASS test is looked up in
  the parsed log; ``fail_only`` is for runners whose logs name failures only) and
  ``log_parser`` (a key of ``swebench.harness.log_parsers.PARSER_REGISTRY``).

The image columns (``image``, ``image_name``, ``docker_image``: one immutable reference; the
id in ``image_id``, the tag in ``image_tag``) are not made here: image building computes what a
row names (its ``ImageRef``), and the runtime does not depend on image building.

swegc's own parser name and options move to ``swegc_log_parser`` / ``swegc_parser_options``,
since ``log_parser`` now holds SWE-bench's name.
"""

from __future__ import annotations

from typing import Any, Mapping

from swegc.runtime.harness.eval_script import eval_script
from swegc.runtime.harness.parser_names import swebench_parser, swegc_parser

EVAL_TYPE = "pass_and_fail"


def peer_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """The peer-tool columns of ``row`` (a swegc instance row); merge them into the row.

    Idempotent: applied to a row that already carries them, it returns the same values.
    """
    name, options = swegc_parser(row)
    return {
        "eval_script": eval_script(row),
        "eval_type": EVAL_TYPE,
        "log_parser": swebench_parser(row),
        "swegc_log_parser": name,
        "swegc_parser_options": options,
    }
