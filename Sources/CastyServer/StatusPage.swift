/// The page every node serves at `GET /status`: what a radio operator sees.
///
/// One self-contained HTML document (inline CSS and JavaScript, no external assets, works offline).
/// Every second it polls its own node's `/status.json` (station, title, listeners, bytes sent,
/// segment number, upstream state) and the root's `/status.json` (found through `root_url`; it
/// also fills in the station where the node's own status lacks it) for `nodes`, which it draws as
/// an SVG tree: root on top, one row per depth, children in name order,
/// dead nodes greyed, outlined in red and labelled "down". Every node element of the SVG
/// (`svg#tree`) carries `data-node`, `data-parent` (empty at the root) and `data-state`
/// (`up`/`down`), which `scripts/status-page-check.py` reads. An `<audio id="player">` plays the
/// node's own stream from `/stream`. Everything taken from JSON reaches the DOM through
/// `textContent`, `setAttribute` or `createElementNS`, never as markup; links to other nodes are
/// only made from http(s) URLs.
enum StatusPage {
    /// The HTML of the page, served as `text/html; charset=utf-8`.
    static let html: String = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Casty status</title>
        <style>
        :root {
          --fg: #1d2330; --muted: #5d6678; --line: #dadee6; --bg: #f5f6f8; --card: #ffffff;
          --accent: #2458c6; --ok: #1f7a3a; --warn: #9a5800; --bad: #b42318;
        }
        * { box-sizing: border-box; }
        body {
          margin: 0; color: var(--fg); background: var(--bg);
          font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        }
        main { max-width: 1120px; margin: 0 auto; padding: 18px 24px 20px; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; }
        .card + .card { margin-top: 16px; }
        .station { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: center; justify-content: space-between; }
        .station .what { min-width: 0; flex: 1 1 420px; }
        h1 { margin: 0; font-size: 1.55rem; line-height: 1.2; overflow-wrap: anywhere; }
        .sub { color: var(--muted); margin-top: 2px; }
        .now { margin-top: 8px; overflow-wrap: anywhere; }
        .now .label { color: var(--muted); }
        #title { font-weight: 600; }
        audio { width: 340px; max-width: 100%; }
        h2 {
          margin: 0 0 10px; font-size: .78rem; font-weight: 700; letter-spacing: .07em;
          text-transform: uppercase; color: var(--muted);
        }
        dl.facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px 24px; margin: 0; }
        @media (max-width: 640px) { dl.facts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
        dl.facts dt { font-size: .8rem; color: var(--muted); }
        dl.facts dd { margin: 0; font-size: 1.1rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
        .pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: .95rem; background: #eef0f4; }
        .pill.ok { background: #e3f3e8; color: var(--ok); }
        .pill.warn { background: #fdf0dc; color: var(--warn); }
        .pill.bad { background: #fde7e5; color: var(--bad); }
        .tree-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; flex-wrap: wrap; }
        .note { color: var(--muted); font-size: .85rem; }
        .note.bad { color: var(--bad); }
        .tree-wrap { overflow-x: auto; }
        svg#tree { display: block; margin: 6px auto 0; max-width: 100%; height: auto; }
        svg#tree text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 12px; fill: var(--fg); text-anchor: middle; }
        svg#tree .name { font-size: 14px; font-weight: 700; }
        svg#tree .box { fill: #ffffff; stroke: #8a94a6; stroke-width: 1.5; }
        svg#tree .self .box { stroke: var(--accent); stroke-width: 3; }
        svg#tree .lagging .lag { fill: var(--warn); font-weight: 700; }
        svg#tree [data-state="down"] .box { fill: #f1f2f4; stroke: var(--bad); stroke-dasharray: 5 3; }
        svg#tree [data-state="down"] text { fill: #8b909a; }
        svg#tree [data-state="down"] .badge { fill: var(--bad); font-weight: 700; letter-spacing: .08em; }
        svg#tree .edge { fill: none; stroke: #9aa3b2; stroke-width: 1.5; }
        svg#tree .edge.down { stroke: #d9a19c; stroke-dasharray: 5 3; }
        svg#tree .row-label { fill: var(--muted); font-size: 11px; text-anchor: start; }
        svg#tree a:hover .box, svg#tree a:focus .box { fill: #eef3fd; }
        .legend { color: var(--muted); font-size: .82rem; margin-top: 8px; }
        .legend span + span::before { content: " · "; }
        footer { display: flex; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-top: 12px; color: var(--muted); font-size: .85rem; }
        #health.bad { color: var(--bad); font-weight: 600; }
        </style>
        </head>
        <body>
        <main>
          <section class="card station" aria-label="Station">
            <div class="what">
              <h1 id="station">Casty</h1>
              <div class="sub" id="station-sub" hidden></div>
              <div class="now"><span class="label">Now playing: </span><span id="title">–</span></div>
            </div>
            <audio id="player" controls autoplay src="/stream"></audio>
          </section>

          <section class="card" aria-label="This node">
            <h2>This node</h2>
            <dl class="facts">
              <div><dt>Name</dt><dd id="node-name">–</dd></div>
              <div><dt>Role</dt><dd id="node-role">–</dd></div>
              <div><dt>Upstream</dt><dd><span class="pill" id="node-upstream">–</span></dd></div>
              <div><dt>Parent</dt><dd id="node-parent">–</dd></div>
              <div><dt>Listeners</dt><dd id="node-listeners">–</dd></div>
              <div><dt>Sent</dt><dd id="node-bytes">–</dd></div>
              <div><dt>Segment</dt><dd id="node-seq">–</dd></div>
              <div><dt>Uptime</dt><dd id="node-uptime">–</dd></div>
            </dl>
          </section>

          <section class="card" aria-label="Tree">
            <div class="tree-head">
              <h2>Tree, as the root sees it</h2>
              <span class="note" id="tree-note">waiting for the root…</span>
            </div>
            <div class="tree-wrap">
              <svg id="tree" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="The tree of nodes" width="300" height="80" viewBox="0 0 300 80"></svg>
            </div>
            <div class="legend"><span>blue outline: this node</span><span>lag: segments behind the root</span><span>red dashed: down</span><span>click a node for its page</span></div>
          </section>

          <footer>
            <span>Last updated <time id="updated">never</time></span>
            <span id="health">connecting…</span>
          </footer>
        </main>
        <script>
        "use strict";
        (function () {
          const SVG_NS = "http://www.w3.org/2000/svg";
          const POLL_MS = 1000;
          const FETCH_TIMEOUT_MS = 3000;
          const BOX_W = 124, BOX_H = 64, SLOT_W = 144, ROW_H = 94, PAD_X = 16, PAD_TOP = 10;

          const byId = (id) => document.getElementById(id);
          let rootBase = null;      // the root's origin, from our own status.json
          let selfName = null;      // this node's name, to outline it in the tree
          let treeShown = false;    // whether the SVG holds a tree (kept when the root stops answering)

          function isNum(v) { return typeof v === "number" && isFinite(v); }
          function str(v) { return typeof v === "string" ? v : ""; }
          function setText(id, value) {
            const el = byId(id);
            if (el) el.textContent = (value === null || value === undefined || value === "") ? "–" : String(value);
          }
          function fmtInt(n) { return isNum(n) ? Math.round(n).toLocaleString("en-US") : "–"; }
          function fmtBytes(n) {
            if (!isNum(n)) return "–";
            const units = ["B", "KB", "MB", "GB", "TB"];
            let i = 0;
            while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
            return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + units[i];
          }
          function fmtDuration(s) {
            if (!isNum(s) || s < 0) return "–";
            s = Math.floor(s);
            const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
            const two = (x) => (x < 10 ? "0" : "") + x;
            if (d > 0) return d + " d " + h + " h";
            if (h > 0) return h + " h " + two(m) + " min";
            if (m > 0) return m + " min " + two(sec) + " s";
            return sec + " s";
          }
          function clock() { return new Date().toLocaleTimeString([], { hour12: false }); }
          function httpURL(text, base) {
            try {
              const u = new URL(text, base);
              return (u.protocol === "http:" || u.protocol === "https:") ? u : null;
            } catch (e) { return null; }
          }

          async function getJSON(url) {
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
            try {
              const response = await fetch(url, { cache: "no-store", signal: controller.signal });
              if (!response.ok) throw new Error("HTTP " + response.status);
              return await response.json();
            } finally {
              clearTimeout(timer);
            }
          }

          // ---- this node ----

          let own = {}, rootStatus = {};   // the last status.json of this node and of the root

          // The station: from this node, or from the root where this node does not say.
          function renderStation() {
            const pick = (key) => (own[key] !== undefined && own[key] !== null && own[key] !== "") ? own[key] : rootStatus[key];
            const station = str(pick("station"));
            setText("station", station || "Casty");
            document.title = (station ? station + " · " : "") + "Casty " + (selfName || "status");
            const sub = [];
            if (str(pick("genre"))) sub.push(pick("genre"));
            if (isNum(pick("bitrate"))) sub.push(pick("bitrate") + " kbps");
            const line = byId("station-sub");
            line.textContent = sub.join(" · ");
            line.hidden = sub.length === 0;
            setText("title", str(pick("title")));
          }

          function renderNode(s) {
            own = s;
            selfName = str(s.name) || null;
            renderStation();
            setText("node-name", selfName);
            setText("node-role", str(s.role));
            setText("node-parent", str(s.parent) || (s.role === "ingest" || s.role === "root" ? "(none: root)" : ""));
            setText("node-listeners", fmtInt(s.listeners));
            setText("node-bytes", fmtBytes(s.bytes_out));
            setText("node-seq", fmtInt(s.seq));
            setText("node-uptime", fmtDuration(s.uptime_s));
            const state = s.upstream && typeof s.upstream === "object" ? str(s.upstream.state) : "";
            const pill = byId("node-upstream");
            pill.textContent = state || "–";
            pill.className = "pill " + (/^(connected|up|live|ok)/i.test(state) ? "ok" : /^(connecting|reconnect|joining|waiting|starting)/i.test(state) ? "warn" : state ? "bad" : "");
            const root = httpURL(str(s.root_url), location.href);
            rootBase = root ? root.origin : location.origin;
          }

          async function pollNode() {
            const health = byId("health");
            try {
              renderNode(await getJSON("status.json"));
              setText("updated", clock());
              health.textContent = "live";
              health.className = "";
            } catch (e) {
              health.textContent = "this node did not answer at " + clock() + " (" + (e && e.message ? e.message : "error") + ")";
              health.className = "bad";
            }
            setTimeout(pollNode, POLL_MS);
          }

          // ---- the tree ----

          // The root's nodes, cleaned: names are unique strings, parents are names or null.
          function nodesFrom(root) {
            const list = [];
            const seen = new Set();
            const add = (n) => { if (n.name && !seen.has(n.name)) { seen.add(n.name); list.push(n); } };
            if (Array.isArray(root.nodes)) {
              for (const n of root.nodes) {
                if (!n || typeof n !== "object") continue;
                add({
                  name: str(n.name), parent: str(n.parent) || null,
                  depth: isNum(n.depth) ? n.depth : null, listeners: isNum(n.listeners) ? n.listeners : null,
                  seq: isNum(n.seq) ? n.seq : null, lag: isNum(n.lag) ? n.lag : null,
                  state: n.state === "down" ? "down" : "up", url: str(n.url),
                });
              }
              return list;
            }
            // A root without `nodes`: its `tree` (mirror → parent) still gives the shape.
            add({ name: str(root.name), parent: null, depth: 0, listeners: isNum(root.listeners) ? root.listeners : null, seq: null, lag: 0, state: "up", url: "" });
            if (root.tree && typeof root.tree === "object") {
              for (const name of Object.keys(root.tree)) {
                add({ name: name, parent: str(root.tree[name]) || null, depth: null, listeners: null, seq: null, lag: null, state: "up", url: "" });
              }
            }
            return list;
          }

          const byName = (a, b) => a.name.localeCompare(b.name, "en", { numeric: true });

          // Tidy layout: leaves take the next free column, a parent sits over its children.
          // Nodes that hang from nothing we know (a dead mirror off the tree) get a row of their own.
          function layout(list) {
            const known = new Map(list.map((n) => [n.name, n]));
            const children = new Map();
            let root = list.find((n) => !n.parent && n.depth === 0) || list.find((n) => !n.parent && n.state === "up") || list.find((n) => !n.parent) || null;
            for (const n of list) {
              if (n !== root && n.parent && n.parent !== n.name && known.has(n.parent)) {
                if (!children.has(n.parent)) children.set(n.parent, []);
                children.get(n.parent).push(n);
              }
            }
            for (const c of children.values()) c.sort(byName);
            const placed = [];
            const visited = new Set();
            let column = 0, rows = 0;
            function place(n, level) {
              visited.add(n.name);
              rows = Math.max(rows, level + 1);
              const kids = (children.get(n.name) || []).filter((k) => !visited.has(k.name));
              const first = column;
              for (const k of kids) place(k, level + 1);
              let x;
              if (kids.length === 0) { x = column; column += 1; } else { x = (kids[0].col + kids[kids.length - 1].col) / 2; }
              n.col = x; n.level = level;
              placed.push(n);
              return first;
            }
            if (root) place(root, 0);
            const loose = list.filter((n) => !visited.has(n.name)).sort(byName);
            loose.forEach((n, i) => { n.col = i; n.level = rows; });
            const columns = Math.max(column, loose.length, 1);
            return { placed: placed, loose: loose, columns: columns, rows: rows + (loose.length ? 1 : 0), looseRow: rows };
          }

          function el(name, attrs, text) {
            const e = document.createElementNS(SVG_NS, name);
            for (const key of Object.keys(attrs || {})) e.setAttribute(key, String(attrs[key]));
            if (text !== undefined) e.textContent = text;
            return e;
          }

          function renderTree(list) {
            const svg = byId("tree");
            const shape = layout(list);
            const width = PAD_X * 2 + shape.columns * SLOT_W;
            const height = PAD_TOP * 2 + Math.max(shape.rows, 1) * ROW_H - (ROW_H - BOX_H) + (shape.loose.length ? 18 : 0);
            const cx = (n) => PAD_X + n.col * SLOT_W + SLOT_W / 2;
            const cy = (n) => PAD_TOP + n.level * ROW_H + BOX_H / 2 + (shape.loose.includes(n) ? 18 : 0);
            const fragment = document.createDocumentFragment();

            const edges = el("g", { class: "edges" });
            const positions = new Map(shape.placed.map((n) => [n.name, n]));
            for (const n of shape.placed) {
              const p = n.parent ? positions.get(n.parent) : null;
              if (!p || p === n) continue;
              const x1 = cx(p), y1 = cy(p) + BOX_H / 2, x2 = cx(n), y2 = cy(n) - BOX_H / 2, ym = (y1 + y2) / 2;
              edges.appendChild(el("path", { class: "edge" + (n.state === "down" ? " down" : ""), d: "M" + x1 + " " + y1 + " C" + x1 + " " + ym + " " + x2 + " " + ym + " " + x2 + " " + y2 }));
            }
            fragment.appendChild(edges);

            if (shape.loose.length) {
              fragment.appendChild(el("text", { class: "row-label", x: PAD_X, y: PAD_TOP + shape.looseRow * ROW_H + 8 }, "not in the tree:"));
            }

            for (const n of shape.placed.concat(shape.loose)) {
              const g = el("g", {
                class: "node" + (n.name === selfName ? " self" : "") + (isNum(n.lag) && n.lag > 2 ? " lagging" : ""),
                "data-node": n.name, "data-parent": n.parent || "", "data-state": n.state,
                transform: "translate(" + cx(n) + " " + cy(n) + ")",
              });
              const link = httpURL(n.url, location.href);
              g.appendChild(el("title", {}, n.name + (link ? " — " + link.origin : "") + (n.state === "down" ? " (down)" : "")));
              g.appendChild(el("rect", { class: "box", x: -BOX_W / 2, y: -BOX_H / 2, width: BOX_W, height: BOX_H, rx: 9 }));
              const label = n.name.length > 14 ? n.name.slice(0, 13) + "…" : n.name;
              g.appendChild(el("text", { class: "name", y: -10 }, label));
              const depth = isNum(n.depth) ? n.depth : (shape.loose.includes(n) ? null : n.level);
              if (n.state === "down") {
                g.appendChild(el("text", { class: "badge", y: 7 }, "DOWN"));
                g.appendChild(el("text", { y: 23 }, depth === null ? "off the tree" : "depth " + depth));
              } else {
                g.appendChild(el("text", { y: 7 }, (isNum(n.listeners) ? fmtInt(n.listeners) : "?") + (n.listeners === 1 ? " listener" : " listeners")));
                const line = el("text", { y: 23 }, "depth " + (depth === null ? "?" : depth) + " · ");
                line.appendChild(el("tspan", { class: "lag" }, "lag " + (isNum(n.lag) ? n.lag : "–")));
                g.appendChild(line);
              }
              if (link) {
                const a = el("a", { href: new URL("/status", link).href });
                a.appendChild(g);
                fragment.appendChild(a);
              } else {
                fragment.appendChild(g);
              }
            }

            svg.setAttribute("viewBox", "0 0 " + width + " " + height);
            svg.setAttribute("width", width);
            svg.setAttribute("height", height);
            svg.replaceChildren(fragment);
          }

          async function pollTree() {
            const note = byId("tree-note");
            if (rootBase) {
              try {
                const base = rootBase;
                const root = await getJSON(base + "/status.json");
                rootStatus = root && typeof root === "object" ? root : {};
                renderStation();
                const list = nodesFrom(root);
                renderTree(list);
                treeShown = true;
                const down = list.filter((n) => n.state === "down").length;
                note.textContent = list.length + (list.length === 1 ? " node" : " nodes") + (down ? ", " + down + " down" : "") + " · root " + base + " · " + clock();
                note.className = "note" + (down ? " bad" : "");
              } catch (e) {
                note.textContent = "the root (" + rootBase + ") did not answer at " + clock() + (treeShown ? "; showing the last tree" : "");
                note.className = "note bad";
              }
            }
            setTimeout(pollTree, POLL_MS);
          }

          // ---- the player: a live stream that ends (node restarted) is picked up again ----

          const player = byId("player");
          let wanted = true;
          player.addEventListener("play", () => { wanted = true; });
          player.addEventListener("pause", () => { if (!player.ended) wanted = false; });
          function replay() {
            if (!wanted) return;
            setTimeout(() => {
              if (!wanted) return;
              player.load();
              const p = player.play();
              if (p && p.catch) p.catch(() => {});
            }, 2000);
          }
          player.addEventListener("ended", replay);
          player.addEventListener("error", replay);

          pollNode();
          pollTree();
        })();
        </script>
        </body>
        </html>
        """#
}
