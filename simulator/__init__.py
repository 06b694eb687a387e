"""The stock-order simulator: everything that is not the dashboard.

    main process: the bank's bus                            broker-k process: its own bus
    +---------------------------------------------+         +------------------------------+
    | OrderFlow -> Bank.place -- route by symbol --+-inbox k->| InboxPump: drain a batch ->  |
    |   Ledger: states, positions, cash  <---------+-results-+|   OrderBook.submit / cancel  |
    | Stats -> Snapshot (10 Hz) -> console | TUI   | (shared) |   acks, trades, heartbeats   |
    | plugins: BrokerPool, Bank                    |          | plugins: InboxPump           |
    +---------------------------------------------+         +------------------------------+

Pure model (no processes, bus, UI or clock): ``orders``, ``book``, ``flow``, ``ledger``.
Process plumbing: ``pool`` (the only module importing multiprocess) and ``broker`` (the child's
side); ``remote`` runs the bank in a process of its own under the dashboard. ``bus`` makes and
drives the CherryPy buses; ``bank`` is the bank's plugin; ``runner`` wires one run; ``journal``
and ``replay`` keep and check a run in SQLite; ``stats`` and ``report`` turn it into Snapshots,
summaries and JSON.
"""
