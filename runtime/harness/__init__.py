"""The one harness: what decides a test outcome, shared by compile, rollouts and evaluation.

A row of the dataset is enough to grade a patch: ``test_spec`` reads its ``TestSettings``
(command, parser, timeout, network, environment, prepare, test-file globs) from it; ``run`` is
the one run procedure (sandbox, patches, ``guard.put_back``, test_patch, prepare, the runs,
``trust``'s cross-checks); ``parsers`` read a runner's output; ``judging`` turns before/after
runs into FAIL_TO_PASS/PASS_TO_PASS (compile's ``validation``); ``grading`` applies SWE-bench's
rules to one patch; ``evaluation`` grades a predictions file.
"""
