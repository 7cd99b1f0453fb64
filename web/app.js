/* The companion page: C4 requests over one transport (transports.js), the answers shown.
   Every answer comes back in order, one per request (docs/protocol.md), so a FIFO of waiting
   requests matches them; lines without "ok" are telemetry (`stream`), lines with "bridge" come
   from `python -m host_tools web` (this page's role: driver or watcher). */
"use strict";

const T = window.RollerTransports;
const STATUS_EVERY_MS = 500;
const LISTS_EVERY_MS = 5000;  // log and history: they change only when a session or fault ends
const ANSWER_MS = 6000;  // the bridge gives up after 5 s; a serial or BLE line may be lost
const PLOT_SECONDS = 30;

const $ = (id) => document.getElementById(id);
let link = null;
let waiting = [];  // {resolve, timer} per request sent, oldest first
let role = "driver";
let commands = [];
let lastState = null;
let timers = [];
const plotData = [[], []];
let plot = null;

function request(obj) {
  if (!link) return Promise.resolve({ ok: false, error: "not connected" });
  return new Promise((resolve) => {
    const entry = { resolve };
    entry.timer = setTimeout(() => {
      waiting = waiting.filter((w) => w !== entry);
      resolve({ ok: false, error: "no answer" });
    }, ANSWER_MS);
    waiting.push(entry);
    link.send(JSON.stringify(obj));
  });
}

function onLine(line) {
  let doc;
  try { doc = JSON.parse(line); } catch (e) { return; }  // boot noise, the REPL
  if (doc === null || typeof doc !== "object") return;
  if ("bridge" in doc) return onBridge(doc);
  if ("ok" in doc) {
    const entry = waiting.shift();
    if (entry) { clearTimeout(entry.timer); entry.resolve(doc); }
    return;
  }
  if (typeof doc.ua === "number" && typeof doc.t === "number") onTelemetry(doc);
}

function onBridge(doc) {
  if (doc.bridge === "role") {
    const was = role;
    role = doc.role;
    $("role").textContent = role === "driver" ? "driving" : "watching (another page drives the device)";
    setControls();
    if (role === "driver" && was !== "driver") request({ cmd: "stream", on: true });
  }
}

function onClose(why) {
  link = null;
  waiting.forEach((w) => { clearTimeout(w.timer); w.resolve({ ok: false, error: why }); });
  waiting = [];
  timers.forEach(clearInterval);
  timers = [];
  $("conn").textContent = "disconnected: " + why;
  $("role").textContent = "";
  $("disconnect").hidden = true;
  setControls();
}

async function connect(Transport) {
  if (link) link.close();
  const t = new Transport();
  $("conn-note").textContent = "";
  try {
    await t.open(onLine, onClose);
  } catch (e) {
    $("conn-note").textContent = "could not connect (" + t.kind + "): " + e.message;
    return false;
  }
  link = t;
  $("conn").textContent = "connected over " + t.kind;
  $("disconnect").hidden = false;
  const info = await request({ cmd: "info" });
  if (!info.ok) { $("conn-note").textContent = "the device did not answer info: " + info.error; return true; }
  commands = info.commands || [];
  $("fw").textContent = "firmware " + info.fw + " on " + info.board;
  const select = $("set-program");
  select.textContent = "";
  for (const name of info.programs || []) select.add(new Option(name, name));
  if (role === "driver") {
    // the device has no battery-backed clock: companions set it (issue 17's `clock`)
    if (commands.includes("clock")) request({ cmd: "clock", unix: Math.floor(Date.now() / 1000) });
    request({ cmd: "stream", on: true });
  }
  await pollStatus();
  await pollLists();
  timers.push(setInterval(pollStatus, STATUS_EVERY_MS), setInterval(pollLists, LISTS_EVERY_MS));
  return true;
}

let statusBusy = false;
async function pollStatus() {
  if (statusBusy || !link) return;
  statusBusy = true;
  const s = await request({ cmd: "status" });
  statusBusy = false;
  if (s.ok) showStatus(s);
}

function showStatus(s) {
  $("state").textContent = s.state;
  $("level").textContent = s.level;
  $("program").textContent = s.program;
  $("head").textContent = "head" in s ? (s.head || "none") : "not reported";
  $("contact").textContent = s.contact ? "yes" + (s.ohm ? " (" + (s.ohm / 1000).toFixed(1) + " kΩ)" : "") : "no";
  $("elapsed").textContent = clock(s.elapsed_s) + " of " + clock(s.session_s);
  $("battery").textContent = s.battery_v.toFixed(2) + " V" + (s.usb ? ", USB power" : "");
  $("week").textContent = "sessions_7d" in s
    ? (s.sessions_7d === null ? "clock not set" : s.sessions_7d + " session(s) in 7 days"
       + ("week_target" in s ? ", target " + s.week_target : ""))
    : "not reported";
  if (document.activeElement !== $("set-level")) $("set-level").value = String(s.level);
  if (document.activeElement !== $("set-program")) $("set-program").value = s.program;
  showLed(s.led);
  const banner = $("banner");
  if (s.state === "FAULT") {
    banner.className = "banner fault";
    banner.textContent = "FAULT " + (s.fault || "") + ": the output is off. Hold the button to switch the device off.";
    banner.hidden = false;
  } else if (s.state === "CHARGING") {
    banner.className = "banner charging";
    banner.textContent = "Charging: no stimulation while USB power is present.";
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  if (lastState !== null && lastState !== s.state) pollLists();  // a session or fault may have ended
  lastState = s.state;
}

function showLed(led) {
  const dot = $("led");
  if (!led) { dot.style.background = "#000"; dot.className = "led"; return; }
  const rgb = "rgb(" + led.rgb.join(",") + ")";
  dot.style.background = rgb;
  dot.style.color = rgb;
  dot.style.setProperty("--period", (led.period_ms || 1000) + "ms");
  dot.className = "led " + led.mode;
  dot.title = "LED: " + led.mode + " " + rgb;
}

async function pollLists() {
  if (!link) return;
  const log = await request({ cmd: "log" });
  if (log.ok) showLog(log);
  if (commands.includes("history")) {
    const h = await request({ cmd: "history" });
    if (h.ok) showHistory(h.sessions);
  } else if (log.ok) {
    $("history-note").textContent = "This firmware keeps no session list: " + log.sessions
      + " session(s), " + log.stim_s + " s of stimulation in all.";
  }
}

function showLog(log) {
  const body = $("faults").tBodies[0];
  body.textContent = "";
  for (const e of log.entries) row(body, [e.boot, (e.ms / 1000).toFixed(1) + " s", e.code]);
  $("faults-note").textContent = log.entries.length ? "" : "No faults logged.";
}

function showHistory(sessions) {
  const body = $("history").tBodies[0];
  body.textContent = "";
  for (const s of sessions) {
    const when = s.start ? new Date(s.start * 1000).toLocaleString() : "boot " + s.boot + ", " + clock(s.uptime_s);
    row(body, [when, clock(s.contact_s), s.program, s.level, s.head, s.peak_ua, s.charge_uc, s.end]);
  }
  $("history-note").textContent = sessions.length ? "Newest first." : "No sessions recorded yet.";
}

function row(body, cells) {
  const tr = body.insertRow();
  for (const c of cells) tr.insertCell().textContent = c === undefined || c === null ? "—" : String(c);
}

function clock(seconds) {
  if (typeof seconds !== "number") return "—";
  const s = Math.round(seconds);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function onTelemetry(doc) {
  plotData[0].push(doc.t);
  plotData[1].push(doc.ua);
  while (plotData[0].length && plotData[0][0] < doc.t - PLOT_SECONDS) { plotData[0].shift(); plotData[1].shift(); }
  $("plot").dataset.points = String(Number($("plot").dataset.points) + 1);
  if (plot) plot.setData(plotData);
}

function makePlot() {
  const box = $("plot");
  plot = new uPlot({
    width: box.clientWidth || 320, height: 220,
    scales: { x: { time: false } },
    axes: [{ label: "s since boot" }, { label: "µA" }],
    series: [{}, { label: "current", stroke: "#1f6feb", width: 1.5, points: { show: false } }],
    legend: { show: false },
  }, plotData, box);
  window.addEventListener("resize", () => plot.setSize({ width: box.clientWidth, height: 220 }));
}

function setControls() {
  const drive = link !== null && role === "driver";
  for (const id of ["set-level", "set-program", "start", "stop"]) $(id).disabled = !drive;
}

async function act(obj) {
  const answer = await request(obj);
  $("reply").textContent = answer.ok ? "ok" : answer.error;
  pollStatus();
}

function init() {
  makePlot();
  setControls();
  const offers = [["via-bridge", T.BridgeTransport], ["via-serial", T.SerialTransport], ["via-ble", T.BleTransport]];
  for (const [id, Transport] of offers) {
    $(id).disabled = !Transport.available();
    $(id).addEventListener("click", () => connect(Transport));
  }
  $("disconnect").addEventListener("click", async () => {
    if (link && role === "driver" && link.kind !== "bridge") await request({ cmd: "stream", on: false });
    if (link) link.close();
    onClose("closed here");
  });
  $("set-level").addEventListener("change", (e) => act({ cmd: "set", level: Number(e.target.value) }));
  $("set-program").addEventListener("change", (e) => act({ cmd: "set", program: e.target.value }));
  $("start").addEventListener("click", () => act({ cmd: "start" }));
  $("stop").addEventListener("click", () => act({ cmd: "stop" }));
  if (T.BridgeTransport.available()) {
    connect(T.BridgeTransport).then((ok) => {
      if (!ok) $("conn-note").textContent = "No bridge here: connect over USB or Bluetooth.";
    });
  }
}

window.roller = { request, plotData };  // for the console and the browser tests
init();
