"""The test harness the tests and benchmarks share: nothing of the simulator itself imports it.

``waiting``: wait on a condition with a deadline, failing clearly when it never comes true.
``procs``: run the simulator as a real process group, judge its report, and make sure nothing
it started outlives the test.
``signal_drill``: stop signals at chosen moments of a run, each run judged (the short drill in
the tests, the long one in bench/stress_signals.py).
``dashboard``: a stand-in SimControl and a distinctive Snapshot, for the dashboard's tests.
``pty``: the simulator on a real pseudo-terminal, its screen read as a person sees it.
"""
