import Foundation

/// The page every node serves at `GET /status`: what a radio operator sees.
///
/// One self-contained HTML document, `Resources/status.html` (inline CSS and JavaScript, no
/// external assets, works offline), loaded once from the module's bundle.
/// Every second it polls its own node's `/status.json` (station, title, listeners, bytes sent,
/// segment number, upstream state) and the root's `/status.json` (found through `root_url`; it
/// also fills in the station where the node's own status lacks it) for `nodes`, which it draws as
/// an SVG tree: root on top, one row per depth, children in name order,
/// dead nodes greyed, outlined in red and labelled "down". Every node element of the SVG
/// (`svg#tree`) carries `data-node`, `data-parent` (empty at the root) and `data-state`
/// (`up`/`down`), which `Tests/Fixtures/status-page-check.py` reads. An `<audio id="player">` plays the
/// node's own stream from `/stream`. Everything taken from JSON reaches the DOM through
/// `textContent`, `setAttribute` or `createElementNS`, never as markup; links to other nodes are
/// only made from http(s) URLs.
enum StatusPage {
    /// The HTML of the page (`Resources/status.html`), served as `text/html; charset=utf-8`.
    static let html: String = {
        guard let url = Bundle.module.url(forResource: "status", withExtension: "html"),
            let data = try? Data(contentsOf: url)
        else {
            return "<!doctype html><title>Casty status</title><p>The status page's resource is missing from this build.</p>\n"
        }
        return String(decoding: data, as: UTF8.self)
    }()
}
