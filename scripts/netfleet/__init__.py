"""Casty's fault harness (scripts/netfleet.sh), one module per job.

  harness.py    the entry: options, signals, exit code (run as a script, not imported)
  config.py     fixed figures and names (addresses, port, targets), the log line
  network.py    namespaces, the bridge, commands in a host, a pulled cable, packet loss
  process.py    a process in a host, its output time-stamped into OUT/logs
  runner.py     Harness: one run's state and order; its base classes below are its jobs
  fleet.py        set-up and teardown: binaries, hosts, fleet file, radio, nodes
  tree.py         /status.json, the root's tree, whole and minimum depth, own places agree
  listeners.py    observers, ICY players, casty-dummy clients, real players
  faults.py       the schedule, the targets, each fault done and undone
  upgrades.py     around an upgrade or stop-start: dummies, connections kept, hand-over lines
  recordings.py   observers' and players' recordings aligned with the root's reference
  oggcheck.py     Ogg: header pages at every player start, recordings decoded with ffmpeg
  checks.py       every fault's row and pass, an upgrade's own figures
  report.py       the table, OUT/report.md and OUT/report.json, the run's pass
  ogg.py        Ogg pages (capture pattern, checksum, header pages), known ffmpeg lines
  probe.py      the observers and players, a separate process in a listener's host (not imported)

Dependencies go one way: harness -> runner -> the job modules -> process, network, ogg, config.
Python 3 standard library only.
"""
