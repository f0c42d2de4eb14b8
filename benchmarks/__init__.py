"""gliaflow's performance suite: ratios against Brian2 (and NEST where it installs), same run.

Run ``python -m benchmarks`` (``--quick`` for a short pass). Each measurement runs in its
own process, simulators alternate (A B C A B C ...) so machine drift cancels in the
per-repetition ratios, and medians are reported with the background load seen.
"""
