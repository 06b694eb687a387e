"""The Textual dashboard of a running simulation: it draws Snapshots and sends commands by name.

    runner ....... starts the bank in a process of its own (simulator.remote), runs the app,
                   prints the summary once the terminal is restored
    app .......... wires the panels and the keys; holds the latest Snapshot (a reactive) and
                   ``Asked``, what the keys asked that the Snapshots do not show yet
    policy ....... plain decisions, tested without an app: key -> command, what is shown
    widgets/ ..... one panel per module, each bound to the app's Snapshot with data_bind
    format ....... numbers, rates and book ladders as text, plain functions
    help ......... the help screen: what every number on the dashboard means

It never reads a pipe or touches a process: everything it shows comes from a Snapshot, and
everything it does goes through a ``simulator.control.SimControl``.
"""
