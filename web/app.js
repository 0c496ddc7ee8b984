/*
 * The tcpwatch dashboard's entry point: the event stream, the filter
 * box's apply, the small tables (listeners, findings, stats line), the
 * polling, and the wiring of the page. No framework: classic scripts that
 * share window.tw (util.js lists them), this one loaded last. Charts with
 * uPlot (embedded beside it). What the page reads, and how often:
 *
 *   /api/v1/events       the live event stream: the connection table and an
 *                        open ladder diagram follow it as events arrive
 *   /api/v1/connections  the table's rows, again when the filter changes or
 *                        the stream reports a loss, and every 10 s (ages,
 *                        handshake times, end reasons)
 *   /metrics             every 2 s: counts by state (kept as a time series
 *                        here) and the handshake and accept-wait histograms
 *   /api/v1/stats, /listeners, /probes, /findings   every 3 s (findings 5 s)
 *
 * Polling stops while the page is hidden. Nothing here is inline in the
 * page: its CSP allows scripts and styles from files of this origin only.
 */
"use strict";

(function () {
	const tw = window.tw;
	const { $, el, endpoint, fmtUs, fmtAge, cookieKey, getJSON, reportError } = tw;
	const table = tw.table;

	/* ---- the event stream ---- */

	let stream = null;
	let eventsSeen = 0;
	function openStream() {
		if (stream)
			stream.close();
		stream = new EventSource(`/api/v1/events?${table.query}`);
		stream.onopen = () => setLive(true);
		stream.onerror = () => setLive(false); /* EventSource reconnects by itself */
		stream.onmessage = (m) => {
			eventsSeen++;
			table.applyEvent(tw.parseJSON(m.data));
		};
		/* The daemon dropped events for this reader: the listing again. */
		stream.addEventListener("lost", () => table.load().catch(reportError));
	}

	function setLive(on) {
		const l = $("live");
		l.className = on ? "live on" : "live off";
		l.textContent = on ? "live" : "reconnecting";
	}

	/* The filter box's text: checked here (filter.js), then the listing and
	 * the stream of the new query; the daemon's 400 under the box. */
	async function applyFilter() {
		const text = $("filter").value;
		const parsed = tw.filter.parse(text);
		if (parsed.error) {
			tw.filter.showError(text, parsed.error);
			return;
		}
		const previous = table.query;
		table.query = parsed.query;
		try {
			await table.load(true);
			tw.filter.clearError();
			if (previous !== table.query || !stream)
				openStream();
		} catch (err) {
			table.query = previous;
			if (err instanceof tw.ApiError && err.status === 400)
				tw.filter.showError(text, tw.filter.errorFromApi(err, parsed, text));
			else
				reportError(err);
		}
	}

	/* ---- listeners, findings, stats (probes: charts.js) ---- */

	function bar(n, limit) {
		const pct = limit ? Math.min(100, (100 * n) / limit) : 0;
		const i = el("i");
		i.style.width = `${pct}%`;
		const b = el("span", { class: pct >= 90 ? "bar hot" : "bar" }, i);
		return el("td", {}, b, `${n} / ${limit}`);
	}

	async function pollListeners() {
		const list = await getJSON("/api/v1/listeners");
		$("listeners").replaceChildren(...(list.length ? list.map((l) => {
			const aw = l.accept_wait_us || {};
			const tr = el("tr", { "data-cookie": cookieKey(l.cookie) });
			tr.append(el("td", { text: endpoint(l.local_addr, l.local_port, l.family) }),
				el("td", { text: l.comm ? `${l.comm} (${l.pid})` : "-" }),
				bar(l.accept_queue, l.accept_queue_limit),
				el("td", { class: "num", text: String(l.accept_queue_max_seen) }),
				el("td", { class: "num", text: `${l.syn_queue} (max ${l.syn_queue_max_seen})` }),
				el("td", { class: "num", text: String(l.accepted) }),
				el("td", { class: "num", text: String(l.overflows) }),
				el("td", { class: "num", text: String(l.drops_total) }),
				el("td", { text: aw.count ? `${fmtUs(aw.p50)} / ${fmtUs(aw.p99)}` : "-" }),
				el("td", { class: "num", text: String(l.half_open_expired) }));
			return tr;
		}) : [el("tr", {}, el("td", { class: "muted", colspan: "10", text: "no listening sockets" }))]));
	}

	async function pollFindings() {
		const body = await getJSON("/api/v1/findings");
		const f = body.findings || [];
		const d = $("findings");
		d.className = f.length ? "" : "muted";
		d.replaceChildren(...(f.length ? f.map((x) => el("div", { class: "finding" },
			el("b", { text: x.kind }), `: ${x.summary}. ${x.explanation || ""}`))
			: [document.createTextNode("no findings")]));
	}

	async function pollStats() {
		const s = await getJSON("/api/v1/stats");
		$("stats").textContent = `v${s.version}, up ${fmtAge(s.uptime_s * 1000)}: ${s.connections_live} live, ` +
			`${s.connections_retained} closed kept, ${s.listeners} listeners, ${s.events_received} events ` +
			`(${s.events_lost} lost), ${eventsSeen} streamed here`;
	}

	/* ---- wiring ---- */

	function every(ms, fn) {
		const run = () => {
			if (!document.hidden)
				fn().catch(reportError);
		};
		run();
		setInterval(run, ms);
	}

	function start() {
		tw.charts.make();

		$("filter-form").addEventListener("submit", (ev) => {
			ev.preventDefault();
			applyFilter();
		});
		let typing = null;
		$("filter").addEventListener("input", () => {
			clearTimeout(typing);
			typing = setTimeout(applyFilter, 600);
		});
		$("conns").addEventListener("click", (ev) => {
			const tr = ev.target.closest("tr[data-cookie]");
			if (tr)
				tw.ladder.show(tr.dataset.cookie);
		});
		$("detail-close").addEventListener("click", tw.ladder.close);

		table.load().catch(reportError).finally(openStream);
		every(2000, tw.charts.pollMetrics);
		every(3000, pollStats);
		every(3000, pollListeners);
		every(3000, tw.charts.pollProbes);
		every(5000, pollFindings);
		setInterval(() => {
			if (!document.hidden)
				table.load().catch(reportError);
		}, 10000);
		setInterval(table.scheduleDraw, 1000); /* ages move on */
	}

	if (typeof uPlot === "undefined")
		document.addEventListener("DOMContentLoaded", () => reportError(new Error("uPlot did not load")));
	else
		start();
})();
