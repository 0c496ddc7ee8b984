/*
 * The connection table: rows from /api/v1/connections (the filter's
 * query), kept up to date by the event stream's events between listings,
 * and drawn newest first, at most 4 times a second.
 *
 *   tw.table.query        the filter's query string (app.js sets it)
 *   tw.table.load(replace) a listing; replace: the rows of a new filter
 *   tw.table.applyEvent(e) one event of the stream
 *   tw.table.scheduleDraw()
 *
 * The row of the open ladder (tw.ladder.selected()) is never evicted.
 */
"use strict";

(function () {
	const tw = window.tw;
	const { $, el, dash, endpoint, fmtUs, fmtAge, cookieKey, cookieCmp } = tw;

	const CONN_ROWS_FETCHED = 2000; /* rows asked of the listing */
	const CONN_ROWS_KEPT = 4000;    /* rows kept here (closed ones evicted first) */
	const CONN_ROWS_SHOWN = 500;    /* rows drawn */
	const DRAW_INTERVAL_MS = 250; /* the table at most this often */

	const table = (tw.table = { query: tw.filter.parse("").query });
	const conns = new Map(); /* cookie (string) -> row data */
	let connTotal = null;
	let drawPending = false;
	const selected = () => tw.ladder.selected(); /* cookie of the open ladder */

	function rowFromConn(c) {
		return {
			cookie: cookieKey(c.cookie), family: c.family, state: c.state, closed: !!c.closed,
			local: endpoint(c.local_addr, c.local_port, c.family),
			remote: endpoint(c.remote_addr, c.remote_port, c.family),
			pid: c.pid, comm: c.comm, role: c.role,
			born: Date.now() - (c.age_ms || 0),
			handshake_us: c.handshake_us, end_reason: c.end_reason, fresh: false,
			touched_ms: 0, /* when the stream last changed it */
		};
	}

	/* An event of the stream, applied to its row (made if new). */
	function applyEvent(e) {
		const key = cookieKey(e.cookie);
		let r = conns.get(key);
		if (!r) {
			r = rowFromConn({ ...e, age_ms: 0, state: e.to || e.state });
			r.fresh = true;
			conns.set(key, r);
		}
		if (e.kind === "state") {
			r.state = e.to;
			if (e.to === "CLOSE")
				r.closed = true;
			if (e.from === "SYN_SENT" && e.to === "ESTABLISHED" && e.in_state_us !== undefined)
				r.handshake_us = r.handshake_us || e.in_state_us;
		}
		/* The port is chosen after CLOSE -> SYN_SENT, and -> CLOSE reads 0:
		 * a later event knows better, a closing one no better. */
		if (e.local_port || r.local.endsWith(":0"))
			r.local = endpoint(e.local_addr, e.local_port, e.family);
		if (e.remote_port)
			r.remote = endpoint(e.remote_addr, e.remote_port, e.family);
		if (e.comm) {
			r.comm = e.comm;
			r.pid = e.pid;
		}
		if (e.role)
			r.role = e.role;
		if (e.end_reason)
			r.end_reason = e.end_reason;
		r.touched_ms = Date.now();
		if (key === selected())
			tw.ladder.schedule();
		scheduleDraw();
	}

	/* Oldest first. Not by cookie: the kernel hands cookies out in per-CPU
	 * batches, so a newer connection can have a smaller one. */
	function byAge(a, b) {
		return conns.get(a).born - conns.get(b).born || cookieCmp(a, b);
	}

	function evict() {
		if (conns.size <= CONN_ROWS_KEPT)
			return;
		const keys = [...conns.keys()].sort(byAge);
		const sel = selected();
		for (const k of keys) {
			if (conns.size <= CONN_ROWS_KEPT)
				break;
			if (conns.get(k).closed && k !== sel)
				conns.delete(k);
		}
		for (const k of keys) {
			if (conns.size <= CONN_ROWS_KEPT)
				break;
			if (k !== sel)
				conns.delete(k);
		}
	}

	/* At once (the next frame) when the table was not drawn for a while,
	 * else batched: a busy stream redraws 4 times a second, not per event. */
	let lastDraw = 0;
	function scheduleDraw() {
		if (drawPending)
			return;
		drawPending = true;
		const wait = Math.max(0, lastDraw + DRAW_INTERVAL_MS - performance.now());
		setTimeout(() => requestAnimationFrame(() => {
			drawPending = false;
			lastDraw = performance.now();
			drawConns();
		}), wait);
	}

	function drawConns() {
		evict();
		const now = Date.now();
		const sel = selected();
		const keys = [...conns.keys()].sort((a, b) => byAge(b, a)).slice(0, CONN_ROWS_SHOWN);
		const rows = keys.map((k) => {
			const c = conns.get(k);
			const tr = el("tr", { "data-cookie": c.cookie });
			if (c.closed)
				tr.classList.add("closed");
			if (c.fresh) {
				tr.classList.add("fresh");
				c.fresh = false;
			}
			if (c.cookie === sel)
				tr.classList.add("selected");
			for (const v of [c.closed ? "CLOSED" : c.state, c.local, c.remote,
				c.comm ? `${c.comm} (${c.pid})` : null, c.role, fmtAge(now - c.born),
				c.handshake_us ? fmtUs(c.handshake_us) : null, c.end_reason, c.cookie])
				tr.append(el("td", { text: dash(v) }));
			return tr;
		});
		$("conns").replaceChildren(...rows);
		const n = conns.size;
		$("conn-note").textContent = `${Math.min(n, CONN_ROWS_SHOWN)} shown` +
			(n > CONN_ROWS_SHOWN ? ` of ${n} followed` : "") +
			(connTotal !== null && connTotal >= CONN_ROWS_FETCHED ? ` (the listing was cut at ${CONN_ROWS_FETCHED})` : "") +
			", newest first";
	}

	let listGeneration = 0;
	/* replace: the rows are those of a new filter (else merged). */
	async function loadConns(replace) {
		const gen = ++listGeneration;
		const asked_ms = Date.now();
		/* Newest first (the shortest age): on a busy host the listing is
		 * cut, and the newest are the ones to show. */
		const list = await tw.getJSON(
			`/api/v1/connections?${table.query}&sort=age&limit=${CONN_ROWS_FETCHED}`);
		if (gen !== listGeneration)
			return; /* a newer listing is under way */
		if (replace)
			conns.clear();
		const seen = new Set();
		for (const c of list) {
			const key = cookieKey(c.cookie);
			const old = conns.get(key);
			const r = rowFromConn(c);
			if (old)
				r.fresh = old.fresh;
			conns.set(key, r);
			seen.add(key);
		}
		/* Rows the listing does not have are gone from the daemon's table,
		 * unless the stream told of them after the listing was asked for. */
		const sel = selected();
		if (list.length < CONN_ROWS_FETCHED)
			for (const [k, r] of [...conns.entries()])
				if (!seen.has(k) && k !== sel && r.touched_ms < asked_ms)
					conns.delete(k);
		connTotal = list.length;
		drawConns();
	}

	table.load = loadConns;
	table.applyEvent = applyEvent;
	table.scheduleDraw = scheduleDraw;
})();
