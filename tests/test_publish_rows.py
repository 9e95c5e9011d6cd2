"""The pure parts of publishing: pinning image references, the changelog, pass@k, the check."""

from __future__ import annotations

import pytest

from swegc.errors import SwegcError
from swegc.hub.cards import BuildFacts, RunsFacts, build_about, runs_about
from swegc.hub.changelog import Changelog, diff_rows
from swegc.hub.checks import check_rows, read_instances
from swegc.hub.images import pin_rows
from swegc.hub.stats import RolloutStats, validation_stats
from swegc.images.reference import ImageRef
from swegc.pass_at_k import pass_at_curve, pass_at_k
from swegc.reasons import EXIT_STATUSES, REASONS, ExitStatus, Reason
from swegc.records import INSTANCE_SCHEMA_VERSION, READABLE_INSTANCE_VERSIONS, Instance

PINNED = "127.0.0.1:5000/acme/swegc-inst/o__r-1@sha256:" + "a" * 64


def row(iid: str, **extra) -> dict:
    return {"instance_id": iid, "repo": "o/r", "base_commit": "c" * 40, "patch": "p", "test_patch": "t",
            "problem_statement": "s", "version": "1.0", "environment_setup_commit": "c" * 40,
            "FAIL_TO_PASS": ["t::a"], "PASS_TO_PASS": [], "image": f"swegc-inst/{iid}:abc",
            "image_id": "sha256:" + "1" * 64, "schema_version": 1, **extra}


def test_a_pushed_image_pins_the_columns_that_name_what_to_run_and_image_id_keeps_the_id():
    image_id = "sha256:" + "1" * 64
    rows = [row("o__r-1", image=image_id, image_tag="swegc-inst/o__r-1:abc", image_name=image_id,
                docker_image=image_id, note="swegc-inst/o__r-1 is the image"),
            row("o__r-2")]
    out = pin_rows(rows, {"o__r-1": ImageRef("swegc-inst/o__r-1:abc", image_id, PINNED)})
    assert {c: out[0][c] for c in ("image", "image_name", "docker_image")} == \
        dict.fromkeys(("image", "image_name", "docker_image"), PINNED)
    assert out[0]["image_id"] == image_id and out[0]["image_tag"] == "swegc-inst/o__r-1:abc"
    assert out[0]["note"] == "swegc-inst/o__r-1 is the image"  # not an image column: kept
    assert out[1] == rows[1]  # nothing pushed for it: unchanged
    assert rows[0]["image"] == image_id  # the input is not modified


def test_a_row_reads_back_as_the_reference_it_was_written_with():
    image_id = "sha256:" + "1" * 64
    for reference in (ImageRef("swegc-inst/o__r-1:abc", image_id),
                      ImageRef("swegc-inst/o__r-1:abc", image_id, PINNED)):
        assert ImageRef.from_row({"instance_id": "o__r-1", **reference.columns()}) == reference
    # rows before schema 3 named the tag in `image`
    assert ImageRef.from_row(row("o__r-1")) == ImageRef("swegc-inst/o__r-1:abc", image_id)
    with pytest.raises(SwegcError, match="o__r-1: the row has no local image id"):
        ImageRef.from_row(row("o__r-1", image_id=PINNED))


def test_an_image_reference_is_never_a_tag():
    with pytest.raises(ValueError):
        ImageRef("swegc-inst/o__r-1:abc", "swegc-inst/o__r-1:abc")
    with pytest.raises(ValueError):
        ImageRef("swegc-inst/o__r-1:abc", "sha256:" + "1" * 64, "registry/o__r-1:abc")


def test_the_changelog_names_added_removed_and_changed_instances_and_ignores_timings():
    old = {"train": [row("a"), row("b"), row("c", validation={"duration_s": 1.0})]}
    new = {"train": [row("a"), row("c", validation={"duration_s": 2.0}, patch="q"), row("d")]}
    log = diff_rows("v1", "0" * 40, old, new)
    assert (log.added, log.removed, log.changed, log.unchanged) == (["d"], ["b"], {"c": ["patch"]}, 1)
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in log.markdown()
    assert diff_rows(None, None, {}, new).markdown() == "First release."


def test_pass_at_k_is_the_unbiased_estimator_averaged_over_instances():
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 2) == pytest.approx(1 - 1 / 3)  # C(2,2)/C(3,2) = 1/3 of pairs miss it
    assert pass_at_k(3, 0, 3) == 0.0
    assert pass_at_curve({"a": [True, False, False], "b": [True, True, False, False]}) == \
        pytest.approx([(1 / 3 + 1 / 2) / 2, (2 / 3 + 5 / 6) / 2, (1 + 1) / 2])


def test_the_check_lists_every_problem_with_its_instance():
    unknown = INSTANCE_SCHEMA_VERSION + 1  # a version from a newer swegc
    rows = [row("a", FAIL_TO_PASS=[]), row("b", schema_version=unknown), row("c", image=""),
            row("d", hints_text="key: sk-proj-" + "x" * 30), row("e", FAIL_TO_PASS="t::a")]
    instances, unreadable = read_instances({"train": rows})
    problems = unreadable + check_rows(
        instances, lambda i: "missing image" if i.instance_id == "c" else None)
    text = [str(p) for p in problems]
    assert "train:a: FAIL_TO_PASS is empty: nothing would tell a fix from no fix" in text
    readable = ", ".join(map(str, READABLE_INSTANCE_VERSIONS))
    assert (f"train:b: instance schema_version {unknown} is not supported (this swegc reads "
            f"{readable})") in text
    assert f"train:a: schema_version 1; this swegc publishes version {INSTANCE_SCHEMA_VERSION} (recompile with it)" in text
    assert any(t.startswith("train:e: column 'FAIL_TO_PASS' should be a list of strings") for t in text)
    assert "train:c: no value in column(s) image" in text and "train:c: missing image" in text
    assert "train:d: column hints_text holds a token shaped like sk-p...; remove it from the source " \
           "(issue text, patch) before publishing" in text
    assert all("x" * 30 not in t for t in text)


def test_the_cards_explain_each_rejection_reason_and_exit_status_in_the_words_of_swegc_reasons():
    instance = Instance.from_row(row("o__r-1", spec_hash="abc", swegc_version="0.1.0",
                                     validation={"runs": 3}))
    reports = [{"status": "valid"}, {"status": "rejected", "reason": "no_fail_to_pass"},
               {"status": "rejected", "reason": "a_reason_of_a_newer_swegc"}]
    stats = validation_stats(reports, [instance])
    assert stats.runs == {3: 1} and stats.fail_to_pass == 1
    card = build_about(BuildFacts("acme/tasks", None, {"train": 1}, [instance], stats, [], None,
                                  Changelog(None), "0.1.0"))
    assert f"| `no_fail_to_pass` | 1 | {REASONS[Reason.NO_FAIL_TO_PASS].meaning} |" in card
    assert "| `a_reason_of_a_newer_swegc` | 1 |  |" in card
    assert "| [o/r](https://github.com/o/r) | 1 | 1 | `abc` |" in card
    runs = runs_about(RunsFacts("acme/runs", None, RolloutStats(2, 1, 1, [0.5], {"stuck": 1, "submitted": 1},
                                                                  2, 2), [], None, 1, Changelog(None)))
    assert f"| `stuck` | 1 | {EXIT_STATUSES[ExitStatus.STUCK]} |" in runs
