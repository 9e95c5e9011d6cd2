"""The one harness: what decides a test outcome, shared by compile, rollouts and evaluation.

A row of the dataset is enough to grade a patch: ``test_spec`` builds the image, command,
parser, timeout, network and environment from it; ``parsers`` read a runner's output;
``judging`` turns before/after runs into FAIL_TO_PASS/PASS_TO_PASS (compile's validation);
``grading`` applies SWE-bench's rules to one patch; ``validation`` and ``evaluation`` run them.
"""
