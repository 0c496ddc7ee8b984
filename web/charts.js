/*
 * The dashboard's charts, drawn with uPlot (the global of
 * uPlot.iife.min.js): connections by state over time and the handshake
 * and accept-wait histograms, from /metrics (Prometheus text) every 2 s,
 * and a card per probe target with its RTTs, from /api/v1/probes.
 *
 *   tw.charts.make()          the charts of the page (once uPlot is loaded)
 *   tw.charts.pollMetrics()   a sample of /metrics: the state series, the histograms
 *   tw.charts.pollProbes()    the probe cards, and the RTTs since the last poll
 */
"use strict";

(function () {
	const tw = window.tw;
	const { $, el, fmtUs } = tw;

	const STATE_SAMPLES = 300;      /* 10 minutes at one sample per 2 s */
	const PROBES_CHARTED = 8;
	const PROBE_POINTS = 300;

	/* ---- connections by state, and the histograms of /metrics ---- */

	function chartWidth(id) {
		return Math.max(240, $(id).clientWidth - 4);
	}

	const STATE_COLORS = {
		ESTABLISHED: "#2e7d32", SYN_SENT: "#f9a825", SYN_RECV: "#ef6c00", FIN_WAIT1: "#6a1b9a",
		FIN_WAIT2: "#8e24aa", TIME_WAIT: "#1565c0", CLOSE_WAIT: "#c62828", LAST_ACK: "#ad1457",
		LISTEN: "#546e7a", CLOSING: "#00838f",
	};
	const CHART_STATES = Object.keys(STATE_COLORS);
	const stateSeries = [[], ...CHART_STATES.map(() => [])];
	let statesChart = null;

	function makeStatesChart() {
		statesChart = new uPlot({
			width: chartWidth("chart-states"), height: 200,
			scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(4, hi * 1.1)] } },
			series: [{}, ...CHART_STATES.map((s) => ({ label: s, stroke: STATE_COLORS[s], width: 1.5, points: { show: false } }))],
			axes: [{}, { size: 50 }],
			legend: { live: false },
		}, stateSeries, $("chart-states"));
	}

	/* Histograms: uPlot bars over the buckets of /metrics (ordinal x). */
	function makeHistogram(id) {
		const labels = [];
		const u = new uPlot({
			width: chartWidth(id), height: 200,
			scales: { x: { time: false, distr: 2 }, y: { range: (u2, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
			series: [{ label: "≤" }, { label: "connections", fill: "rgba(47,111,219,0.55)", stroke: "#2f6fdb",
				paths: uPlot.paths.bars({ size: [0.85, 40] }), points: { show: false } }],
			axes: [{ values: (u2, splits) => splits.map((i) => labels[i] || "") }, { size: 45 }],
			legend: { show: false },
		}, [[], []], $(id));
		return { u, labels };
	}
	let hsChart = null, awChart = null;

	/* Prometheus text: {name: [{labels, value}]}. */
	function parseMetrics(text) {
		const out = {};
		for (const line of text.split("\n")) {
			if (!line || line[0] === "#")
				continue;
			const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
			if (!m)
				continue;
			const labels = {};
			if (m[2])
				for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
					labels[l[1]] = l[2];
			(out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[3]) });
		}
		return out;
	}

	function fmtBound(s) {
		const us = s * 1e6;
		return us < 1000 ? `${us}us` : us < 1e6 ? `${us / 1000}ms` : `${s}s`;
	}

	/* Cumulative buckets to counts per bucket, up to the last that holds any. */
	function histogramData(metrics, name, chart, summaryId) {
		const buckets = (metrics[`${name}_bucket`] || []).filter((b) => b.labels.le !== "+Inf");
		const count = ((metrics[`${name}_count`] || [])[0] || { value: 0 }).value;
		const sum = ((metrics[`${name}_sum`] || [])[0] || { value: 0 }).value;
		let prev = 0;
		const per = buckets.map((b) => {
			const n = b.value - prev;
			prev = b.value;
			return n;
		});
		const over = count - prev;
		let last = per.length - 1;
		while (last > 3 && per[last] === 0)
			last--;
		const labels = buckets.slice(0, last + 1).map((b) => fmtBound(Number(b.labels.le)));
		const ys = per.slice(0, last + 1);
		if (over > 0) {
			labels.push("more");
			ys.push(over);
		}
		chart.labels.length = 0;
		chart.labels.push(...labels);
		chart.u.setData([labels.map((_, i) => i), ys]);
		$(summaryId).textContent = count ? `${count} seen, mean ${fmtUs((sum / count) * 1e6)}` : "none yet";
	}

	async function pollMetrics() {
		const m = parseMetrics(await tw.getText("/metrics"));
		const byState = {};
		for (const s of m.tcpwatch_connections || [])
			byState[s.labels.state] = s.value;
		stateSeries[0].push(Date.now() / 1000);
		CHART_STATES.forEach((s, i) => stateSeries[i + 1].push(byState[s] || 0));
		if (stateSeries[0].length > STATE_SAMPLES)
			stateSeries.forEach((a) => a.shift());
		statesChart.setData(stateSeries);
		histogramData(m, "tcpwatch_handshake_seconds", hsChart, "hs-summary");
		histogramData(m, "tcpwatch_accept_wait_seconds", awChart, "aw-summary");
	}

	/* ---- probe targets: a card each, with its RTTs ---- */

	const probeCharts = new Map(); /* id -> {u, data, after, card} */

	function probeCard(p) {
		const chartDiv = el("div");
		const card = el("div", { class: "probe", "data-id": String(p.id) },
			el("h3", { text: `${p.target} (${p.mode}${p.configured ? ", configured" : ""})` }),
			el("div", { class: "sum" }), chartDiv);
		$("probes").append(card);
		const data = [[], []];
		const u = new uPlot({
			width: Math.max(260, card.clientWidth - 16), height: 150,
			scales: { x: { time: true }, y: { range: (u2, lo, hi) => [0, Math.max(10, hi * 1.2)] } },
			series: [{}, { label: "RTT (us)", stroke: "#2f6fdb", width: 1.5, points: { show: true, size: 3 } }],
			axes: [{}, { size: 50 }],
			legend: { show: false },
		}, data, chartDiv);
		return { u, data, after: 0, card };
	}

	async function pollProbes() {
		const body = await tw.getJSON("/api/v1/probes");
		const probes = (body.probes || []).slice(0, PROBES_CHARTED);
		if (!probes.length) {
			probeCharts.forEach((c) => c.u.destroy());
			probeCharts.clear();
			$("probes").replaceChildren(el("span", { class: "muted", text: "none configured" }));
			return;
		}
		if (!probeCharts.size)
			$("probes").replaceChildren();
		const ids = new Set(probes.map((p) => String(p.id)));
		for (const [id, c] of probeCharts)
			if (!ids.has(id)) {
				c.u.destroy();
				c.card.remove();
				probeCharts.delete(id);
			}
		for (const p of probes) {
			const id = String(p.id);
			let c = probeCharts.get(id);
			if (!c) {
				c = probeCard(p);
				probeCharts.set(id, c);
			}
			const s = p.summary || {};
			c.card.querySelector(".sum").textContent =
				`sent ${s.sent}, received ${s.received}, lost ${s.lost}` +
				(s.rtt_count ? `; rtt min ${fmtUs(s.min_us)} avg ${fmtUs(s.avg_us)} p99 ${fmtUs(s.p99_us)} max ${fmtUs(s.max_us)}` : "") +
				(p.handshakes ? `; handshakes p50 ${fmtUs(p.handshakes.p50_us)} (${p.handshakes.count})` : "");
			const one = await tw.getJSON(`/api/v1/probes/${id}?after=${c.after}`);
			for (const r of one.probes || []) {
				c.after = Math.max(c.after, r.seq + 1);
				if (r.rtt_us === null || r.rtt_us === undefined)
					continue;
				c.data[0].push(r.time_ns / 1e9);
				c.data[1].push(r.rtt_us);
			}
			while (c.data[0].length > PROBE_POINTS) {
				c.data[0].shift();
				c.data[1].shift();
			}
			c.u.setData(c.data);
		}
	}

	function make() {
		makeStatesChart();
		hsChart = makeHistogram("chart-handshake");
		awChart = makeHistogram("chart-accept");
		window.addEventListener("resize", () => {
			statesChart.setSize({ width: chartWidth("chart-states"), height: 200 });
			hsChart.u.setSize({ width: chartWidth("chart-handshake"), height: 200 });
			awChart.u.setSize({ width: chartWidth("chart-accept"), height: 200 });
		});
	}

	tw.charts = { make, pollMetrics, pollProbes };
})();
