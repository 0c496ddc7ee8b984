// The dashboard in headless Chromium, as a user would see it. Started by
// test_dashboard_browser.py with a daemon serving TW_URL; exits non-zero
// with a message at the first failed check.
//
//   TW_URL            the dashboard (http://127.0.0.1:PORT/)
//   TW_CHROMIUM       the browser (/usr/bin/chromium)
//   TW_SCREENSHOT     where the screenshot goes
//   TW_PROBE_TARGET   ADDR:PORT the daemon probes (its card must chart RTTs)

import { createRequire } from "node:module";
import net from "node:net";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const URL_ = process.env.TW_URL;
const SHOT = process.env.TW_SCREENSHOT;
const PROBE_TARGET = process.env.TW_PROBE_TARGET;

// A connection must be in the table within a second of connect(). The
// daemon's event stream now holds events until libmicrohttpd next runs
// (up to 1 s: MHD_get_timeout() does not count resumed connections), so
// the end-to-end bound allows that lag on top, and the page's own part,
// from the event's arrival to its row, is held to DRAW_WITHIN_MS.
const APPEAR_WITHIN_MS = 1000;
/* The daemon runs a resumed stream at once (sse.resumed): no lag allowed,
 * except under ASan+UBSan, whose daemon and page run several times slower. */
const STREAM_FLUSH_LAG_MS = process.env.TCPWATCH_SANITIZED === "1" ? 2000 : 0;
const DRAW_WITHIN_MS = 500; /* table.js draws at most every 250 ms */

function log(msg) {
	console.log(`[dashboard.mjs] ${msg}`);
}

class CheckFailed extends Error {}
function check(cond, msg) {
	if (!cond)
		throw new CheckFailed(msg);
}

// A listener here, and connections to it whose ports we know.
function listen() {
	return new Promise((resolve) => {
		const sockets = [];
		const server = net.createServer((s) => sockets.push(s));
		server.listen(0, "127.0.0.1", () => resolve({ server, sockets, port: server.address().port }));
	});
}

function connect(port) {
	return new Promise((resolve, reject) => {
		const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
		s.on("error", reject);
	});
}

// The table's rows as [state, local, peer, ...] text.
const rows = (page) => page.$$eval("#conns tr", (trs) => trs.map((tr) =>
	[...tr.children].map((td) => td.textContent)));

async function main() {
	const errors = [];
	let allowBadFilter400 = false;
	const browser = await chromium.launch({
		executablePath: process.env.TW_CHROMIUM,
		headless: true,
		args: ["--no-sandbox"],
	});
	const { server, sockets, port: serverPort } = await listen();
	try {
		const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
		page.on("console", (m) => {
			if (m.type() !== "error")
				return;
			const url = (m.location() || {}).url || "";
			// The bad filter's 400 is logged by Chromium as a failed load:
			// expected then, and only for the listing with a filter.
			if (allowBadFilter400 && /status of 400/.test(m.text()) && url.includes("/api/v1/connections?") &&
				url.includes("filter="))
				return;
			errors.push(`console error: ${m.text()} (${url})`);
		});
		page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
		page.on("requestfailed", (r) => {
			// The event stream is cut when the page closes; anything else is a failure.
			if (!r.url().includes("/api/v1/events"))
				errors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
		});

		// Each stream message, stamped as it arrives (before the page sees it).
		await page.addInitScript(() => {
			const Original = window.EventSource;
			window.__twArrivals = [];
			window.EventSource = class extends Original {
				constructor(...args) {
					super(...args);
					this.addEventListener("message", (m) => window.__twArrivals.push([performance.now(), m.data]));
				}
			};
		});

		// 1. The page loads, with its assets, the stream open and no console errors.
		const resp = await page.goto(URL_, { waitUntil: "load" });
		check(resp.status() === 200, `GET / answered ${resp.status()}`);
		check(/script-src 'self'/.test(resp.headers()["content-security-policy"] || "") &&
			!/unsafe-inline/.test(resp.headers()["content-security-policy"]),
			`CSP: ${resp.headers()["content-security-policy"]}`);
		await page.waitForSelector("#live.on", { timeout: 5000 });
		await page.waitForFunction(() => document.querySelectorAll("#chart-states canvas").length > 0, null,
			{ timeout: 5000 });
		check(!(await page.textContent("#stats")).startsWith("error"), `stats: ${await page.textContent("#stats")}`);
		await page.waitForTimeout(500);
		check(errors.length === 0, `errors while loading:\n  ${errors.join("\n  ")}`);
		log("the page loaded without console errors; the event stream is open");

		// 2. A connection made now appears in the table within a second.
		const t0 = Date.now();
		const client = await connect(serverPort);
		const clientPort = client.localPort;
		const local = `127.0.0.1:${clientPort}`;
		const shown = await page.waitForFunction((l) => [...document.querySelectorAll("#conns tr")].some((tr) =>
			tr.children[1] && tr.children[1].textContent === l && tr.children[0].textContent === "ESTABLISHED") &&
			performance.now(), local, { timeout: APPEAR_WITHIN_MS + STREAM_FLUSH_LAG_MS, polling: "raf" }).catch(async () => {
			const seen = await page.evaluate(() => window.__twArrivals.map(([t, d]) => d.slice(0, 160)).slice(-8));
			throw new CheckFailed(`${local} not in the table as ESTABLISHED within ` +
				`${APPEAR_WITHIN_MS} + ${STREAM_FLUSH_LAG_MS} ms of connect(); rows ` +
				`${JSON.stringify((await rows(page)).slice(0, 6))}; the last events ${JSON.stringify(seen)}`);
		});
		const appeared = Date.now() - t0;
		const shownAt = await shown.jsonValue();
		const arrivedAt = await page.evaluate((p) => {
			const a = window.__twArrivals.find(([, d]) => d.includes(`"local_port":${p},`) && d.includes("\"to\":\"ESTABLISHED\""));
			return a ? a[0] : null;
		}, clientPort);
		check(arrivedAt !== null, `no ESTABLISHED event for ${local} reached the page`);
		check(shownAt - arrivedAt <= DRAW_WITHIN_MS,
			`the row took ${Math.round(shownAt - arrivedAt)} ms after its event arrived (at most ${DRAW_WITHIN_MS})`);
		const row = (await rows(page)).find((r) => r[1] === local);
		check(row[2] === `127.0.0.1:${serverPort}`, `the row's peer: ${row[2]}`);
		check(row[4] === "active", `the row's role: ${row[4]}`);
		log(`${local} appeared ${appeared} ms after connect(), ${Math.round(shownAt - arrivedAt)} ms after its ` +
			`event arrived${appeared > APPEAR_WITHIN_MS ? " (over 1 s: the daemon's stream flush lag)" : ""}: ${row.join(" | ")}`);

		// 3. A click shows its transitions as a ladder, which follows the stream.
		await page.click(`#conns tr[data-cookie="${row[8]}"]`);
		await page.waitForSelector("#ladder svg", { timeout: 3000 });
		const ladder = async () => page.$$eval("#ladder svg", (s) => ({
			states: [...s[0].querySelectorAll("text.state")].map((t) => t.textContent),
			packets: [...s[0].querySelectorAll("g.pkt")].map((g) => g.dataset.label),
			ends: [...s[0].querySelectorAll("text.end-name")].map((t) => t.textContent),
		}));
		let l = await ladder();
		check(l.states.join(",") === "SYN_SENT,ESTABLISHED", `ladder states: ${l.states}`);
		check(l.packets.join(",") === "SYN,SYN-ACK,ACK", `ladder packets: ${l.packets}`);
		check(l.ends[0] === local && l.ends[1] === `127.0.0.1:${serverPort}`, `ladder ends: ${l.ends}`);
		check((await page.textContent("#detail-facts")).includes("active"), "the facts do not say active");
		// Closing it: the open ladder takes the FIN from the stream.
		client.end();
		await page.waitForFunction(() => [...document.querySelectorAll("#ladder text.state")].some((t) =>
			t.textContent === "FIN_WAIT1"), null, { timeout: 3000 }).catch(() => {
			throw new CheckFailed("the open ladder did not follow the close (no FIN_WAIT1)");
		});
		l = await ladder();
		check(l.packets.slice(0, 4).join(",") === "SYN,SYN-ACK,ACK,FIN", `ladder after close: ${l.packets}`);
		log(`the ladder shows ${l.states.join(" -> ")} with ${l.packets.join(", ")}`);

		// 4. The filter box filters the table and the stream.
		const client2 = await connect(serverPort);
		await page.waitForFunction((l2) => [...document.querySelectorAll("#conns tr")].some((tr) =>
			tr.children[1] && tr.children[1].textContent === l2), `127.0.0.1:${client2.localPort}`, { timeout: 2000 });
		check((await rows(page)).length >= 3, "fewer than 3 rows before filtering");
		await page.fill("#filter", `src 127.0.0.1:${clientPort}`);
		await page.press("#filter", "Enter");
		await page.waitForFunction((l3) => {
			const trs = [...document.querySelectorAll("#conns tr")];
			return trs.length > 0 && trs.every((tr) => tr.children[1].textContent === l3);
		}, local, { timeout: 3000 }).catch(async () => {
			throw new CheckFailed(`filtered rows: ${JSON.stringify(await rows(page))}`);
		});
		check(await page.isHidden("#filter-error"), "an error shown for a good filter");
		// A connection that does not match stays out, though the stream tells of it.
		const client3 = await connect(serverPort);
		await page.waitForTimeout(700);
		const filtered = await rows(page);
		check(filtered.every((r) => r[1] === local), `filtered rows after a new connection: ${JSON.stringify(filtered)}`);
		log(`filter 'src 127.0.0.1:${clientPort}': ${filtered.length} row(s), all ${local}`);

		// 5. A bad filter shows the daemon's error at the bad token...
		allowBadFilter400 = true;
		const bad = `state established sport = :${clientPort} or dport = :nope`;
		await page.fill("#filter", bad);
		await page.press("#filter", "Enter");
		await page.waitForSelector("#filter-error:not([hidden])", { timeout: 3000 });
		let offset = await page.getAttribute("#filter-error", "data-offset");
		let mark = await page.textContent("#filter-error mark");
		let message = await page.textContent("#filter-error-message");
		check(Number(offset) === bad.indexOf(":nope"), `error offset ${offset}, the bad token is at ${bad.indexOf(":nope")}`);
		check(mark === ":nope", `marked token: '${mark}'`);
		check(/bad port/.test(message), `error message: ${message}`);
		check(await page.getAttribute("#filter", "aria-invalid") === "true", "the box is not marked invalid");
		log(`bad filter: '${message}' under '${mark}'`);
		// ...a state name the CLI would refuse, at its word...
		await page.fill("#filter", "state bogus dport = :1");
		await page.press("#filter", "Enter");
		await page.waitForFunction(() => document.querySelector("#filter-error mark") &&
			document.querySelector("#filter-error mark").textContent === "bogus", null, { timeout: 3000 });
		offset = await page.getAttribute("#filter-error", "data-offset");
		check(offset === "6", `offset of 'bogus': ${offset}`);
		// ...an expression cut short, at its end.
		const cut = "dport = :1 and (";
		await page.fill("#filter", cut);
		await page.press("#filter", "Enter");
		await page.waitForFunction(() => /ends too early/.test(document.querySelector("#filter-error-message").textContent),
			null, { timeout: 3000 });
		offset = await page.getAttribute("#filter-error", "data-offset");
		check(Number(offset) === cut.length, `offset of the cut expression: ${offset}, expected ${cut.length}`);
		// The table kept the last good filter's rows.
		check((await rows(page)).every((r) => r[1] === local), "a bad filter changed the table");

		// 6. Cleared: every connection again, the error gone.
		await page.fill("#filter", "");
		await page.press("#filter", "Enter");
		await page.waitForSelector("#filter-error", { state: "hidden", timeout: 10000 });
		await page.waitForFunction((l4) => [...document.querySelectorAll("#conns tr")].some((tr) =>
			tr.children[1].textContent === l4), `127.0.0.1:${client3.localPort}`, { timeout: 10000 });
		allowBadFilter400 = false;

		// 7. Listeners, the probe target's RTT chart, the histograms.
		await page.waitForFunction((p) => document.querySelector("#listeners").textContent.includes(p),
			`127.0.0.1:${serverPort}`, { timeout: 5000 }).catch(() => {
			throw new CheckFailed(`listener 127.0.0.1:${serverPort} not in the listeners table`);
		});
		await page.waitForFunction((t) => [...document.querySelectorAll(".probe h3")].some((h) =>
			h.textContent.startsWith(t)) && /received [1-9]/.test(document.querySelector(".probe .sum").textContent),
		PROBE_TARGET, { timeout: 8000 }).catch(async () => {
			throw new CheckFailed(`no probe card with results for ${PROBE_TARGET}: ${await page.textContent("#probes")}`);
		});
		check(await page.$$eval(".probe canvas", (c) => c.length) > 0, "the probe card has no chart");
		await page.waitForFunction(() => /^\d+ seen/.test(document.querySelector("#hs-summary").textContent),
			null, { timeout: 5000 }).catch(async () => {
			throw new CheckFailed(`handshake histogram: ${await page.textContent("#hs-summary")}`);
		});
		log(`listeners, probe ${PROBE_TARGET} and the handshake histogram (${await page.textContent("#hs-summary")}) shown`);

		// 8. The screenshot, with the first connection's ladder open.
		await page.click(`#conns tr[data-cookie="${row[8]}"]`);
		await page.waitForFunction(() => document.querySelectorAll("#ladder g.pkt").length >= 4, null, { timeout: 3000 });
		await page.waitForTimeout(2500); /* one more sample on the state chart */
		await page.screenshot({ path: SHOT, fullPage: true });
		log(`screenshot: ${SHOT}`);

		check(errors.length === 0, `errors:\n  ${errors.join("\n  ")}`);
		client2.destroy();
		client3.destroy();
		await page.close();
	} finally {
		sockets.forEach((s) => s.destroy());
		server.close();
		await browser.close();
	}
}

main().then(() => {
	log("PASS");
	process.exit(0);
}, (e) => {
	console.error(`[dashboard.mjs] FAIL: ${e instanceof CheckFailed ? e.message : e.stack}`);
	process.exit(1);
});
