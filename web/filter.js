/*
 * The filter box: the grammar of `tcpwatch list`, checked here before the
 * daemon sees it, and a bad filter's error shown under the box with a
 * caret at the bad token (ours, or the daemon's offset mapped back).
 *
 * `state NAME` and `exclude NAME` words (anywhere, as the CLI takes
 * them), the rest an ss expression that the daemon parses (filter=).
 * The state names and groups are those of common/tcpstate.c.
 *
 *   tw.filter.parse(text)                    {query, expr, segments} or {error}
 *   tw.filter.errorFromApi(err, parsed, text) the daemon's 400 as {offset, length, message}
 *   tw.filter.showError(text, e), tw.filter.clearError()
 */
"use strict";

(function () {
	const tw = window.tw;
	const $ = tw.$;

	const STATES = ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];
	const STATE_ALIASES = {
		"estab": "ESTABLISHED", "established": "ESTABLISHED",
		"syn-sent": "SYN_SENT", "syn-recv": "SYN_RECV",
		"fin-wait-1": "FIN_WAIT1", "fin-wait-2": "FIN_WAIT2",
		"time-wait": "TIME_WAIT", "unconn": "CLOSE", "closed": "CLOSE", "close": "CLOSE",
		"close-wait": "CLOSE_WAIT", "last-ack": "LAST_ACK",
		"listen": "LISTEN", "listening": "LISTEN", "closing": "CLOSING",
	};
	function stateSet(word) {
		const w = word.toLowerCase();
		const all = new Set(STATES);
		const connected = new Set(STATES.filter((s) => s !== "LISTEN" && s !== "CLOSE"));
		const bucket = new Set(["SYN_RECV", "TIME_WAIT"]);
		if (w === "all")
			return all;
		if (w === "connected")
			return connected;
		if (w === "synchronized")
			return new Set([...connected].filter((s) => s !== "SYN_SENT"));
		if (w === "bucket")
			return bucket;
		if (w === "big")
			return new Set(STATES.filter((s) => !bucket.has(s)));
		const s = STATES.find((k) => k.toLowerCase() === w) || STATE_ALIASES[w];
		return s ? new Set([s]) : null;
	}

	/* The box's text as query parameters: {query, expr, segments} or
	 * {error: {offset, length, message}}. segments map the expression sent
	 * back to the box, for the daemon's error offsets. */
	function parseFilterBox(text) {
		const tokens = [];
		for (const m of text.matchAll(/\S+/g))
			tokens.push({ text: m[0], start: m.index });
		let states = null;
		const excluded = new Set();
		const segments = [];
		let expr = "";
		for (let i = 0; i < tokens.length; i++) {
			const t = tokens[i];
			if (t.text === "state" || t.text === "exclude") {
				const name = tokens[i + 1];
				if (!name)
					return { error: { offset: t.start, length: t.text.length, message: `${t.text} needs a state name` } };
				const set = stateSet(name.text);
				if (!set)
					return {
						error: {
							offset: name.start, length: name.text.length,
							message: `unknown state '${name.text}' (established, syn-sent, syn-recv, fin-wait-1, ` +
								"fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or all, " +
								"connected, synchronized, bucket, big)",
						},
					};
				if (t.text === "state") {
					states = states || new Set();
					set.forEach((s) => states.add(s));
				} else {
					set.forEach((s) => excluded.add(s));
				}
				i++;
				continue;
			}
			if (expr)
				expr += " ";
			segments.push({ exprStart: expr.length, boxStart: t.start, length: t.text.length });
			expr += t.text;
		}
		/* No state word: every state, closed ones kept with their history too. */
		const chosen = [...(states || new Set(STATES))].filter((s) => !excluded.has(s));
		if (!chosen.length)
			return { error: { offset: 0, length: text.length, message: "every state is excluded" } };
		const q = new URLSearchParams();
		q.set("state", chosen.join(","));
		if (expr)
			q.set("filter", expr);
		return { query: q.toString(), expr, segments };
	}

	/* The daemon's filter error: "filter: MESSAGE (at offset N)", N an
	 * offset into the expression; a numeric "offset" field is taken first. */
	function filterErrorFromApi(err, parsed, boxText) {
		const raw = err.message || "";
		let offset = null, message = raw;
		if (err.body && typeof err.body.offset === "number")
			offset = err.body.offset;
		const m = /^filter: (.*) \(at offset (\d+)\)$/.exec(raw);
		if (m) {
			message = m[1];
			if (offset === null)
				offset = Number(m[2]);
		}
		if (offset === null || !parsed.segments)
			return { offset: null, length: 0, message };
		let box = boxText.trimEnd().length; /* past the end: "ends too early" */
		for (const s of parsed.segments) {
			if (offset >= s.exprStart && offset <= s.exprStart + s.length) {
				box = s.boxStart + (offset - s.exprStart);
				break;
			}
		}
		const rest = boxText.slice(box).match(/^\S*/)[0];
		return { offset: box, length: Math.max(rest.length, 1), message };
	}

	function showFilterError(boxText, e) {
		const box = $("filter-error"), where = $("filter-error-where");
		$("filter").classList.add("bad");
		$("filter").setAttribute("aria-invalid", "true");
		where.replaceChildren();
		if (e.offset !== null) {
			const text = boxText.padEnd(e.offset + e.length, " ");
			where.append(text.slice(0, e.offset),
				tw.el("mark", { text: text.slice(e.offset, e.offset + e.length) }),
				text.slice(e.offset + e.length), "\n", " ".repeat(e.offset) + "^");
			where.hidden = false;
		} else {
			where.hidden = true;
		}
		$("filter-error-message").textContent =
			e.offset !== null ? `bad filter at offset ${e.offset}: ${e.message}` : `bad filter: ${e.message}`;
		box.hidden = false;
		box.dataset.offset = e.offset === null ? "" : String(e.offset);
	}

	function clearFilterError() {
		$("filter").classList.remove("bad");
		$("filter").removeAttribute("aria-invalid");
		$("filter-error").hidden = true;
	}

	tw.filter = {
		parse: parseFilterBox,
		errorFromApi: filterErrorFromApi,
		showError: showFilterError,
		clearError: clearFilterError,
	};
})();
