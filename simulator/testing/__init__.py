"""The test harness the tests and benchmarks share: nothing of the simulator itself imports it.

``waiting``: wait on a condition with a deadline, failing clearly when it never comes true.
``procs``: run the simulator as a real process group, judge its report, and make sure nothing
it started outlives the test.
"""
