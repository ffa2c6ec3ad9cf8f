"""What the fleet says of itself: a node's /status.json, the root's tree and its depths, whether the tree
is whole and of minimum depth, and whether every mirror's own place agrees with the root's."""

import concurrent.futures
import json
import time

from .config import PLACES_AGREE_S, PORT
from .network import in_ns, run


class Tree:
    """Part of Harness (runner.py): queries of the running fleet, and waiting on them."""

    def status(self, host, node=None):
        address = self.net.address[node or host]
        out = run(in_ns(host, ["curl", "-fsS", "--max-time", "1", f"http://{address}:{PORT}/status.json"]), check=False)
        try:
            return json.loads(out)
        except ValueError:
            return None

    def current_root(self):
        """The ingest that is the root now: `root`, or, with a standby that took over, `root2`."""
        if self.args.standby and (self.status("root2") or {}).get("is_root"):
            return "root2"
        return "root"

    def tree(self):
        status = self.status(self.current_root())
        return (status or {}).get("tree") or {}

    def tree_depths(self, tree):
        depths = {}
        for name in tree:
            depth, node, hops = 0, name, 0
            while node in tree and hops < 64:
                node, depth, hops = tree[node], depth + 1, hops + 1
            depths[name] = depth
        return depths

    def tree_text(self):
        tree = self.tree()
        return ", ".join(f"{child}<-{parent}" for child, parent in sorted(tree.items(), key=lambda kv: int(kv[0][1:])))

    def min_depth(self):
        depth, capacity, placed = 0, 1, 0
        while placed < len(self.mirrors):
            depth, capacity = depth + 1, capacity * 2
            placed += capacity
        return depth

    def tree_whole(self):
        """Every mirror placed, of minimum depth, and every mirror's own parent agrees."""
        tree = self.tree()
        if sorted(tree) != sorted(self.mirrors):
            return False
        if max(self.tree_depths(tree).values()) != self.min_depth():
            return False
        nodes = (self.status(self.current_root()) or {}).get("nodes") or []
        up = {node.get("name") for node in nodes if node.get("state") == "up"}
        return set(self.mirrors) <= up

    def places(self):
        """The mirrors whose own /status.json disagrees with the root's tree about their parent or
        depth, as {name: (own parent, own depth, root's parent, root's depth)}; a mirror that does
        not answer counts as disagreeing."""
        tree = self.tree()
        depths = self.tree_depths(tree)
        names = sorted(tree, key=lambda name: int(name[1:]))
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = dict(zip(names, pool.map(lambda name: self.status(name), names)))
        wrong = {}
        for name in names:
            own = statuses[name] or {}
            if own.get("parent") != tree[name] or own.get("depth") != depths[name]:
                wrong[name] = (own.get("parent"), own.get("depth"), tree[name], depths[name])
        return wrong

    def wait_for_places(self, seconds=PLACES_AGREE_S):
        """Polls until every mirror's own place agrees with the root's tree; returns the seconds it
        took (None if it never did) and the last disagreements."""
        start = time.monotonic()
        while True:
            wrong = self.places()
            elapsed = time.monotonic() - start
            if not wrong:
                return round(elapsed, 2), {}
            if elapsed >= seconds:
                return None, wrong
            time.sleep(0.1)

    def wait_for_tree(self, seconds):
        self.wait(self.tree_whole, seconds, "a whole tree of minimum depth")

    def wait(self, predicate, seconds, what):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.25)
        raise RuntimeError(f"timed out after {seconds} s waiting for {what}")

    @staticmethod
    def wrong_text(wrong):
        return ", ".join(f"{name} says {own_parent}/{own_depth}, root {parent}/{depth}"
                         for name, (own_parent, own_depth, parent, depth) in sorted(wrong.items()))
