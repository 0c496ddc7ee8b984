/*
 * The dashboard's shared helpers, loaded first: it makes the one namespace
 * the other scripts share (window.tw), and puts in it the DOM builders,
 * the formatters and the API fetchers they all use.
 *
 * The scripts, in the order index.html loads them (all deferred, so they
 * run in that order once the page is parsed):
 *
 *   util.js    this file: tw.$, tw.el, tw.svg, tw.fmtUs, tw.getJSON, ...
 *   filter.js  the filter box: its grammar, and its error under the box
 *   ladder.js  the detail panel of one connection, with its ladder diagram
 *   charts.js  the uPlot charts: states over time, histograms, probe RTTs
 *   table.js   the connection table, fed by listings and the stream
 *   app.js     the event stream, the polling and the wiring; starts it all
 *
 * Each file is one IIFE that adds its part to tw; the parts call each
 * other through tw at run time, so only app.js needs the others loaded.
 */
"use strict";

(function () {
	const tw = (window.tw = {});

	/* ---- the DOM ---- */

	tw.$ = (id) => document.getElementById(id);

	tw.el = function el(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (k === "class")
				e.className = v;
			else if (k === "text")
				e.textContent = v;
			else
				e.setAttribute(k, v);
		}
		for (const k of kids)
			e.append(k);
		return e;
	};

	const SVG_NS = "http://www.w3.org/2000/svg";
	tw.svg = function svg(tag, attrs, text) {
		const e = document.createElementNS(SVG_NS, tag);
		for (const [k, v] of Object.entries(attrs || {}))
			e.setAttribute(k, String(v));
		if (text !== undefined)
			e.textContent = text;
		return e;
	};

	/* ---- formatting ---- */

	tw.dash = (v) => (v === null || v === undefined || v === "") ? "-" : String(v);

	tw.endpoint = function endpoint(addr, port, family) {
		if (addr === undefined || addr === null)
			return "-";
		return (family === "inet6" || String(addr).includes(":")) ? `[${addr}]:${port}` : `${addr}:${port}`;
	};

	tw.fmtUs = function fmtUs(us) {
		if (us === null || us === undefined)
			return "-";
		if (us < 1000)
			return `${Math.round(us)}us`;
		if (us < 1e6)
			return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)}ms`;
		return `${(us / 1e6).toFixed(2)}s`;
	};

	tw.fmtAge = function fmtAge(ms) {
		if (ms < 1000)
			return `${Math.max(0, Math.round(ms))}ms`;
		const s = ms / 1000;
		if (s < 60)
			return `${s.toFixed(1)}s`;
		if (s < 3600)
			return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
		return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
	};

	/* ---- the API ----
	 *
	 * Socket cookies are 64-bit: JSON numbers past 2^53 would lose digits in
	 * JSON.parse, so long ones are read as strings. Cookies are kept as
	 * decimal strings here, compared by length then text. */
	tw.parseJSON = function parseJSON(text) {
		return JSON.parse(text.replace(/"(cookie|listener_cookie|child_cookie)":(\d{16,})/g, "\"$1\":\"$2\""));
	};
	tw.cookieKey = (c) => String(c);
	tw.cookieCmp = (a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0);

	tw.ApiError = class ApiError extends Error {
		constructor(status, body, message) {
			super(message);
			this.status = status;
			this.body = body;
		}
	};

	tw.getText = async function getText(path) {
		const r = await fetch(path, { cache: "no-store" });
		const text = await r.text();
		if (!r.ok) {
			let body = null;
			try {
				body = JSON.parse(text);
			} catch (e) {
				/* not JSON: the status says it */
			}
			throw new tw.ApiError(r.status, body, body && body.error ? body.error : `${path}: HTTP ${r.status}`);
		}
		return text;
	};
	tw.getJSON = async (path) => tw.parseJSON(await tw.getText(path));

	/* Errors of the polls and listings, where the stats line was. */
	tw.reportError = function reportError(err) {
		tw.$("stats").textContent = `error: ${err.message}`;
	};
})();
