#!/usr/bin/python3
"""Casty's fault harness: a fleet on several hosts, the faults of a real network, and what
every listener heard.

Every host is a network namespace (`ip netns`) with its own address on one bridge: the local
test radio (Icecast 2 + ffmpeg), the ingest, and one host per mirror. Players sit on the leaf
hosts: a reference observer on the root, and on every leaf a peer observer (segment numbers),
an ICY player (bytes), dummy clients (casty-dummy), and real players (ffmpeg, mpg123). Then the
faults run one after the other, each with players attached throughout:

  cable-3s / cable-4s  the link of an inner node set down, then up (a pulled cable)
  loss-10pct           1 packet in 10 dropped both ways on an inner node's link (iptables)
  kill                 an inner node killed (SIGKILL), restarted after the measurement
  freeze               an inner node stopped (SIGSTOP) for 4 s, then resumed
  freeze-12s           the same for 12 s: longer than the root waits for a moved mirror (10 s),
                       so the root declares it failed, and it rejoins when it wakes
  upstream-drop        the radio drops the ingest's connection and stays up (Icecast killclient)
  upstream-restart     the radio stopped and started again
  ingest-restart       the ingest stopped (SIGTERM) and started again
  member-change        the fleet file changed while everyone listens: a new mirror added, an inner
                       one removed (drained: its children move, it leaves); SIGHUP to the ingest,
                       then to every mirror; the new mirror started (only with --faults)
  root-kill            (--standby) the root ingest killed (SIGKILL): the standby takes over;
                       the old one, restarted, must follow it
  root-cable-4s        (--standby) the root ingest's host cut off for 4 s: the standby takes
                       over; the old one, back, must follow it
  mass-kill            a quarter of the mirrors (rounded up), inner ones, killed at the same
                       instant (SIGKILL), restarted after the measurement; joins per second at
                       the root reported (only with --faults mass-kill)
  upgrade              an inner mirror with a child mirror (picked as kill picks it, when the
                       listeners start) upgraded in place: the next build (OUT/next/: the binary
                       with bytes appended, so another build digest and version) started on its
                       host with its arguments and environment plus --take-over; the old process
                       must exit and the new one log `took over from pid` within 30 s; the new
                       pid is tracked from then on (only with --faults)
  upgrade-ingest       the same for the ingest: the new one must splice the radio (`upstream
                       reconnected: dropped the audio it sent again`) (only with --faults)
  stop-start           for comparison, the upgrade's target stopped (SIGTERM) and started again
                       with the same binary: what an upgrade costs without a hand-over
                       (only with --faults)

--faults K1,K2,… runs those faults instead of the usual schedule (`none`: none, to measure how the
fleet forms and a run without faults). Every run reports how long the tree took to form and each
mirror's memory (VmRSS) once formed.

With upgrade or stop-start, the target mirror carries --listeners-on-target listeners (200): from
the start an observer and --players-on-target ICY players (8) recorded like the leaves' ones, and,
from 5 s before each such fault to the end of its measurement, casty-dummy clients for the rest
(half players, half peer observers, at most 48 from each of the listener hosts l1, l2, …, since a
node takes 64 connections per address); its child has players too (a leaf's own, or 2 more). With
upgrade-ingest the root carries as many. Their extra table: the hand-over time (the new process's
start to the old one's exit; for stop-start, SIGTERM to the new process serving again), the
longest pause at the target's and at its child's players (the longest gap between two reads that
brought audio, from DIR/NAME.reads: at the fault, i.e. among the gaps that end from its start
to 2 s after its end; over the whole measurement; and in the 10 s before, for comparison, since
segments come about once a second), the longest delay behind the root at those players, lost and repeated, the
players' reconnects with the audio a reconnect brought again (its burst) or skipped, the
connections to the node's port kept (`ss -tnpe` in its host before and after: the same peer
address, port and socket inode, now held by the new pid alone), the child's rejoins (at most 1),
and the dummies' failed/gaps/repeats (a dummy whose connection closes fails). Every node's control
socket is in OUT/run (RUNTIME_DIRECTORY), away from other fleets on the machine.

For each: segments lost and repeated at every observer and player, time until every one of them
is whole again (has every segment the root has, within 250 ms), rejoins, and the tree's depth
after. Once the root's tree is whole again, every live mirror's own /status.json must agree with
it (its parent, and its depth counted in the root's tree) within 2 s: the row says how long that
took, or which mirror disagreed with what. Writes OUT/report.json and OUT/report.md, prints the table, exits 1 if a target is missed
(0 lost and 0 repeated except for an ingest restart, recovery within 2 s of the fault's end).

--format F plays the test radio in format F (scripts/test-radio.sh --format; default mp3). For
Ogg (vorbis, vorbis-chained, opus, flac) a player's first bytes are its chain's header pages: the
harness checks that they equal that chain's header pages in the root's reference (the reference
observer joins with protocol version 2, which also brings the header pages of the chain it joins
in, and from the oldest segment the root keeps, so that it holds the players' first burst),
compares the rest byte for byte from the first audio page on, and decodes every player's
recording with `ffmpeg -v error -i REC -f null -`. Both real players are ffmpeg unless the format
is MP3 (ffmpeg and mpg123). --short-ogg runs one kill and one freeze on an Ogg fleet whose radio
starts a new chain every 12 s, so that chain boundaries fall inside the faults (the first kill
and freeze come about 9 s and 22 s after the radio starts).

Needs root (namespaces, iptables). Tears down every namespace and process it made, also on
Ctrl-C or SIGTERM. Run it through scripts/netfleet.sh.
"""

import argparse
import os
import signal
import sys

# Run as a script, this file's own folder is first on the path: put its parent there instead, so
# that the harness's modules are imported as the package netfleet (scripts/netfleet/__init__.py).
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from netfleet.config import FORMATS, OGG_FORMATS, UPGRADE_FAULTS, log  # noqa: E402
from netfleet.runner import Harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, epilog="Run it through scripts/netfleet.sh.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with casty-ingest, casty-mirror and casty-dummy")
    parser.add_argument("--mirrors", type=int, default=7, help="mirrors in the fleet (1..63, default 7)")
    parser.add_argument("--standby", action="store_true", help="a standby root ingest (root2) in the fleet file, on a host of its own")
    parser.add_argument("--faults", type=lambda text: [] if text == "none" else text.split(","),
                        help="comma-separated faults to run instead of the usual schedule (`none` for none): cable-3s, cable-4s, "
                             "loss-10pct, kill, freeze, freeze-12s, upstream-drop, upstream-restart, ingest-restart, mass-kill, member-change, "
                             "root-kill, root-cable-4s (--standby), upgrade, upgrade-ingest, stop-start (see above)")
    parser.add_argument("--short", action="store_true", help="one fault of each kind, a 10 s packet loss")
    parser.add_argument("--format", choices=FORMATS, default="mp3", help="the test radio's format (scripts/test-radio.sh --format; default mp3)")
    parser.add_argument("--short-ogg", action="store_true", help="Ogg formats: one kill and one freeze, with a new chain every 12 s")
    parser.add_argument("--track-seconds", type=int, help="the test radio's track length (default 60, 12 with --short-ogg)")
    parser.add_argument("--loss-seconds", type=float, help="how long the packet loss lasts (default 60, 10 with --short)")
    parser.add_argument("--settle", type=float, default=10, help="seconds measured after each fault ends (default 10)")
    parser.add_argument("--gap", type=float, default=2, help="seconds between faults (default 2)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of listening before the first fault (default 5)")
    parser.add_argument("--dummies", type=int, default=40, help="casty-dummy clients spread over the leaves (default 40)")
    parser.add_argument("--listeners-on-target", type=int, default=200,
                        help="upgrade, upgrade-ingest, stop-start: listeners on the target (default 200): --players-on-target "
                             "ICY players and one observer recorded from the start, the rest casty-dummy clients (half players, "
                             "half peer observers) connected 5 s before the fault")
    parser.add_argument("--players-on-target", type=int, default=8,
                        help="recorded ICY players on the upgrade target, and on the root with upgrade-ingest (default 8)")
    parser.add_argument("--out", required=True, help="folder for logs, recordings and the report")
    args = parser.parse_args()
    if not 1 <= args.mirrors <= 63:
        parser.error("--mirrors must be 1..63")
    if any(kind.startswith("root-") for kind in args.faults or []) and not args.standby:
        parser.error("the root-kill and root-cable-4s faults need --standby")
    if "member-change" in (args.faults or []) and args.mirrors > 62:
        parser.error("member-change adds a mirror: --mirrors must be 1..62")
    kinds = ("cable-3s", "cable-4s", "loss-10pct", "kill", "freeze", "freeze-12s", "upstream-drop", "upstream-restart", "ingest-restart", "mass-kill",
             "member-change", "root-kill", "root-cable-4s", *UPGRADE_FAULTS)
    for kind in args.faults or []:
        if kind not in kinds:
            parser.error(f"unknown fault {kind!r}; the faults are {', '.join(kinds)}")
    if "upgrade-ingest" in (args.faults or []) and args.standby:
        parser.error("upgrade-ingest: casty-ingest --take-over does not support a fleet with a standby root yet")
    if args.players_on_target < 1 or not args.players_on_target + 1 <= args.listeners_on_target <= 2000:
        parser.error("--listeners-on-target must be --players-on-target + 1 (the observer) to 2000, --players-on-target at least 1")
    if args.short_ogg and args.format not in OGG_FORMATS:
        parser.error(f"--short-ogg needs an Ogg --format ({', '.join(OGG_FORMATS)})")
    if args.short_ogg and args.short:
        parser.error("give --short or --short-ogg, not both")
    if args.track_seconds is None:
        args.track_seconds = 12 if args.short_ogg else 60
    if args.loss_seconds is None:
        args.loss_seconds = 10 if args.short else 60
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces and iptables)")
    harness = Harness(args)

    def interrupted(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background, where SIGINT is ignored
    signal.signal(signal.SIGHUP, interrupted)
    ok = False
    try:
        harness.run()
        rows, dummies, decode, _ = harness.analyse()
        ok = harness.report(rows, dummies, decode)
    except KeyboardInterrupt:
        log("interrupted; tearing down")
    except Exception as error:
        log(f"failed: {error}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        harness.teardown()
        log(f"torn down; logs, recordings and the report in {harness.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
