/*
 * The detail panel of one connection: its facts from
 * /api/v1/connections/COOKIE, and its history drawn as an SVG ladder
 * diagram, a connection's life as packets between its two ends (the
 * segments each transition implies, as cli/show.c draws them). An open
 * panel follows the stream: table.js asks for a redraw when an event of
 * its connection arrives.
 *
 *   tw.ladder.show(cookie)   open (or redraw) the panel of a connection
 *   tw.ladder.close()
 *   tw.ladder.selected()     the cookie of the open panel, or null
 *   tw.ladder.schedule()     redraw the open panel soon (batched)
 */
"use strict";

(function () {
	const tw = window.tw;
	const { $, el, svg, dash, endpoint, fmtUs } = tw;

	let selected = null; /* cookie of the open ladder */

	const PACKETS = {
		"CLOSE>SYN_SENT": [[true, "SYN"]],
		"SYN_SENT>ESTABLISHED": [[false, "SYN-ACK"], [true, "ACK"]],
		"LISTEN>SYN_RECV": [[false, "SYN"], [true, "SYN-ACK"]],
		"SYN_RECV>ESTABLISHED": [[false, "ACK"]],
		"ESTABLISHED>FIN_WAIT1": [[true, "FIN"]],
		"SYN_RECV>FIN_WAIT1": [[true, "FIN"]],
		"FIN_WAIT1>FIN_WAIT2": [[false, "ACK"]],
		"FIN_WAIT2>TIME_WAIT": [[false, "FIN"], [true, "ACK"]],
		"FIN_WAIT1>TIME_WAIT": [[false, "FIN+ACK"], [true, "ACK"]],
		"FIN_WAIT1>CLOSING": [[false, "FIN"], [true, "ACK"]],
		"CLOSING>TIME_WAIT": [[false, "ACK"]],
		"ESTABLISHED>CLOSE_WAIT": [[false, "FIN"], [true, "ACK"]],
		"CLOSE_WAIT>LAST_ACK": [[true, "FIN"]],
		"LAST_ACK>CLOSE": [[false, "ACK"]],
	};

	function deltaText(ns) {
		if (ns < 1e3)
			return `+${Math.round(ns)}ns`;
		if (ns < 1e6)
			return `+${Math.round(ns / 1e3)}us`;
		if (ns < 1e9)
			return `+${(ns / 1e6).toFixed(1)}ms`;
		return `+${(ns / 1e9).toFixed(2)}s`;
	}

	/* One history entry: {state, packets: [[out, label, kind]], note, derived}. */
	function ladderEntry(e) {
		const k = e.kind;
		if (k === "state")
			return {
				state: e.to, derived: !!e.derived, note: e.derived ? "(derived)" : "",
				packets: (PACKETS[`${e.from}>${e.to}`] || []).map(([o, l]) => [o, l, ""]),
			};
		if (k === "reset_sent")
			return { packets: [[true, "RST", "rst"]] };
		if (k === "reset_received")
			return { packets: [[false, "RST", "rst"]] };
		if (k === "retransmit")
			return { packets: [[true, e.state === "SYN_SENT" ? "SYN (retransmit)" : "retransmit", "retx"]] };
		if (k === "synack")
			return { packets: [[true, "SYN-ACK", ""]] };
		if (k === "synack_retransmit")
			return { packets: [[true, "SYN-ACK (retransmit)", "retx"]] };
		if (k === "drop")
			return { packets: [[false, "dropped", "drop"]], note: `(drop: ${e.reason || "?"})` };
		if (k === "accept")
			return { packets: [], note: `accept() after ${e.wait_ms} ms in the accept queue` };
		return { packets: [], note: k };
	}

	function drawLadder(c) {
		const W = 640, X0 = 150, X1 = 470, ROW = 26, TOP = 34;
		const hist = c.history || [];
		const rows = [];
		let prev = null;
		for (const e of hist) {
			if (e.kind === "dropped") {
				rows.push({ gap: `… ${e.count} entries dropped …` });
				continue;
			}
			const t = e.since_first_ns || 0;
			const entry = ladderEntry(e);
			entry.time = (t / 1e9).toFixed(6);
			entry.delta = prev === null ? "" : deltaText(t - prev);
			entry.kind = e.kind;
			prev = t;
			rows.push(entry);
		}
		const lines = rows.reduce((n, r) => n + Math.max(1, r.packets ? r.packets.length : 0), 0);
		const H = TOP + lines * ROW + 16;
		const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
			"aria-label": `ladder diagram of connection ${c.cookie}` });
		s.append(svg("text", { x: X0, y: 14, "text-anchor": "middle", class: "end-name" },
			endpoint(c.local_addr, c.local_port, c.family)));
		s.append(svg("text", { x: X1, y: 14, "text-anchor": "middle", class: "end-name" },
			endpoint(c.remote_addr, c.remote_port, c.family)));
		s.append(svg("text", { x: 4, y: 14, class: "time" }, "time (s)"));
		s.append(svg("line", { x1: X0, y1: 22, x2: X0, y2: H - 6, class: "end-line" }));
		s.append(svg("line", { x1: X1, y1: 22, x2: X1, y2: H - 6, class: "end-line" }));
		let y = TOP;
		for (const r of rows) {
			if (r.gap) {
				s.append(svg("text", { x: (X0 + X1) / 2, y: y + 12, "text-anchor": "middle", class: "gap" }, r.gap));
				y += ROW;
				continue;
			}
			const g = svg("g", { class: `entry kind-${r.kind}`, "data-kind": r.kind });
			g.append(svg("text", { x: 4, y: y + 10, class: "time" }, r.time));
			g.append(svg("text", { x: 4, y: y + 21, class: "delta" }, r.delta));
			if (r.state)
				g.append(svg("text", { x: X0 - 8, y: y + 10, "text-anchor": "end",
					class: r.derived ? "state derived" : "state" }, r.state));
			const n = Math.max(1, r.packets.length);
			r.packets.forEach(([out, label, kind], i) => {
				const yy = y + i * ROW;
				const [xa, xb] = out ? [X0, X1] : [X1, X0];
				const ya = yy + 4, yb = yy + 18;
				const p = svg("g", { class: `pkt ${kind}`.trim(), "data-label": label });
				p.append(svg("line", { x1: xa, y1: ya, x2: xb, y2: yb }));
				const dir = out ? -1 : 1; /* the head points at xb */
				p.append(svg("polygon", { points: `${xb},${yb} ${xb + dir * 9},${yb - 5} ${xb + dir * 8},${yb + 2}` }));
				p.append(svg("text", { x: (X0 + X1) / 2, y: (ya + yb) / 2 - 3, "text-anchor": "middle" }, label));
				g.append(p);
			});
			if (r.note)
				g.append(svg("text", { x: X1 + 8, y: y + 12, class: "note" }, r.note));
			s.append(g);
			y += n * ROW;
		}
		$("ladder").replaceChildren(s);
	}

	function fact(dl, name, value) {
		dl.append(el("dt", { text: name }), el("dd", { text: dash(value) }));
	}

	async function showConnection(cookie) {
		selected = cookie;
		let c;
		try {
			c = await tw.getJSON(`/api/v1/connections/${cookie}`);
		} catch (err) {
			if (selected !== cookie)
				return;
			$("detail").hidden = false;
			$("detail-title").textContent = `connection ${cookie}`;
			$("detail-facts").replaceChildren();
			$("ladder").replaceChildren(el("p", { class: "muted", text: err.message }));
			return;
		}
		if (selected !== cookie)
			return;
		$("detail").hidden = false;
		$("detail-title").textContent = `${endpoint(c.local_addr, c.local_port, c.family)} → ` +
			`${endpoint(c.remote_addr, c.remote_port, c.family)}`;
		const dl = $("detail-facts");
		dl.replaceChildren();
		fact(dl, "cookie", c.cookie);
		fact(dl, "state", c.closed ? `CLOSED (${c.state})` : c.state);
		fact(dl, "role", c.role);
		fact(dl, "process", c.comm ? `${c.comm} (${c.pid}), uid ${c.uid}` : null);
		fact(dl, "handshake", c.handshake_us ? `${fmtUs(c.handshake_us)} (${c.handshake_source})` : null);
		if (c.accept_wait_us !== null && c.accept_wait_us !== undefined)
			fact(dl, "accept wait", fmtUs(c.accept_wait_us));
		fact(dl, "end", c.end_reason ? `${c.end_reason}${c.closed_first ? `, ${c.closed_first} closed first` : ""}` : null);
		if (c.tcp_info)
			fact(dl, "rtt", `${fmtUs(c.tcp_info.rtt_us)} ± ${fmtUs(c.tcp_info.rttvar_us)}, cwnd ${c.tcp_info.snd_cwnd}`);
		fact(dl, "retransmits", `${c.retransmits} (SYN ${c.syn_retransmits}), resets sent ${c.resets_sent}, received ${c.resets_received}`);
		if (c.source === "snapshot")
			fact(dl, "note", "found by a sock_diag snapshot: its life before that is unknown");
		drawLadder(c);
		for (const tr of $("conns").children)
			tr.classList.toggle("selected", tr.dataset.cookie === cookie);
	}

	let ladderTimer = null;
	function scheduleLadder() {
		if (ladderTimer)
			return;
		ladderTimer = setTimeout(() => {
			ladderTimer = null;
			if (selected)
				showConnection(selected);
		}, 150);
	}

	function close() {
		selected = null;
		$("detail").hidden = true;
		for (const tr of $("conns").children)
			tr.classList.remove("selected");
	}

	tw.ladder = {
		show: showConnection,
		close,
		selected: () => selected,
		schedule: scheduleLadder,
	};
})();
