"""The harness's fixed figures and names: addresses, ports, targets, and its one log line."""

import os
import sys

PREFIX = "cnf-"  # every namespace this harness makes starts with it
HUB = PREFIX + "hub"
SUBNET = "10.77.0"
PORT = 8000
LATE_S = 0.25  # a segment later than this behind the root means the listener is not whole
RECOVERY_TARGET_S = 2.0
PLACES_AGREE_S = 2.0  # every mirror's own parent and depth agree with the root's tree within this
FORMATS = ("mp3", "mp3-vbr", "aac", "vorbis", "vorbis-chained", "opus", "flac")  # scripts/test-radio.sh --format
OGG_FORMATS = ("vorbis", "vorbis-chained", "opus", "flac")
HERE = os.path.dirname(os.path.abspath(__file__))  # scripts/netfleet
REPO = os.path.dirname(os.path.dirname(HERE))
UPGRADE_FAULTS = ("upgrade", "upgrade-ingest", "stop-start")
DUMMIES_PER_HOST = 48
DUMMY_LEAD_S = 5.0  # the target's dummy clients connect this long before an upgrade fault
TAKE_OVER_WAIT_S = 30.0  # at most this long for the old process to exit and the new one to take over


def log(message):
    print(f"netfleet: {message}", file=sys.stderr, flush=True)
