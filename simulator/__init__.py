"""The stock-order simulator: everything that is not the dashboard.

    bank process: its bus (plugins in the start/stop order of bus.ORDER)       broker-k process
    +--------------------------------------------------------------------+     +----------------+
    | Bank: Schedule -> OrderFlow -> Ledger.place -> Routing.split       |     | its own bus    |
    |       -> pending per broker -> Channel k .send(batch) ------------+-----> InboxPump      |
    |       Ledger.apply(events) <- BrokerPool.poll <- Channel k -------+<-----  OrderBooks    |
    | Supervisor: dead / hung brokers, restart with books, drills        |     |  acks, trades, |
    | SnapshotBuilder: Snapshot 10 Hz -> console, dashboard; Outcome     |     |  heartbeats    |
    | Journal (--journal): every batch's bytes to SQLite, a writer thread|     +----------------+
    +--------------------------------------------------------------------+
    under the dashboard the bank process is a child of the dashboard's (remote.py); with
    --transport amqp the channels are RabbitMQ queues and brokers may run anywhere (amqp_pool)

Where each thing lives:

    the pure model      orders, wire, book, flow (+ pending_cancels), ledger (+ order_window,
                        id_index, batch_check, positions, reconciliation, fills_digest, symbol_stats,
                        rejects), routing, schedule, series (the report's per-second rows): no
                        process, bus, UI or clock
    the bank process    bank (places, books, stops), supervisor (restarts), snapshots
                        (Snapshots, Outcome; run_figures), pool (broker processes), channel
                        (the transport seam), runner (wires one run, applies commands),
                        journal (+ journal_file), http_server + http_api + http_metrics (the
                        run on HTTP, a bus plugin)
    process plumbing    processes: signals, child set-up, start, terminate -> kill; the only
                        module that imports multiprocess
    the broker process  broker (InboxPump and the books)
    over AMQP           (--transport amqp) amqp_url (the URL: env, mask, first connection),
                        amqp_link (a process's RabbitMQ connection: a bus plugin and its one
                        thread), amqp_topology (queue names, offers), amqp_channel (a shard
                        queue as a Channel), amqp_pool (the bank's brokers over AMQP),
                        amqp_broker (a broker taking a shard over), broker_cli (simulate.py broker)
    between processes   messages (framing and records), wire (int64 order and event records),
                        control (the commands a UI may send), stats (the Snapshot),
                        snapshot_json (the Snapshot over HTTP, both ways)
    a person's view     cli (flags -> a run), config (flags), config_file + config_print (TOML
                        files, presets/), report (banner, progress line, summary, JSON) +
                        report_text + report_schema, report_cli + report_plot (simulate.py
                        report), sweep + sweep_plan + sweep_table (simulate.py sweep), replay
                        (re-runs a journal), journal_expand (its batches as tables: journal
                        expand), remote (the bank under the dashboard), http_flags (--http),
                        attach (a run's API as a SimControl), http_serve (the dashboard in
                        browser tabs); ``tui`` draws Snapshots
    testing             testing/ (the harness tests and benchmarks share)
"""
