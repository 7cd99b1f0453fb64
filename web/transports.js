/* The three ways to the device. Each carries the same C4 JSON lines (docs/protocol.md):
   open(onLine, onClose) resolves once connected; send(line) sends one request line; close().
   Bluetooth uses the Nordic UART Service (firmware/roller/ble_uart.py), so nRF Connect and other
   generic tools speak to it too. */
"use strict";

const NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
const NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";  // we write requests here
const NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";  // the device notifies lines here
const ROLLER_STATUS = "b9e40002-4d2c-4a8e-9f5f-2f4a3c6a7e10";  // read-only status, notify
const BLE_CHUNK_BYTES = 20;  // ATT's default MTU less its header: every central can take it

/* Bytes or text in, whole lines out (a line may arrive in pieces, several in one piece). */
class LineSplitter {
  constructor(onLine) { this.onLine = onLine; this.rest = ""; }
  push(text) {
    const parts = (this.rest + text).split("\n");
    this.rest = parts.pop();
    if (this.rest.length > 4096) this.rest = "";  // no newline for that long: not our device
    for (const part of parts) {
      const line = part.replace(/\r$/, "");
      if (line) this.onLine(line);
    }
  }
}

/* The WebSocket of `python -m host_tools web`, at /ws of the page's own origin (with its token). */
class BridgeTransport {
  static available() { return location.protocol === "http:" || location.protocol === "https:"; }
  constructor() { this.kind = "bridge"; this.ws = null; }
  open(onLine, onClose) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/ws" + location.search;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      let opened = false;
      ws.onopen = () => { opened = true; this.ws = ws; resolve(); };
      ws.onmessage = (event) => onLine(String(event.data));
      ws.onerror = () => { if (!opened) reject(new Error("no bridge at " + location.host)); };
      ws.onclose = () => { if (opened) onClose("bridge closed"); };
    });
  }
  send(line) { this.ws.send(line); }
  close() { if (this.ws) this.ws.close(); }
}

/* USB CDC in desktop Chrome/Edge (navigator.serial). */
class SerialTransport {
  static available() { return "serial" in navigator; }
  constructor() { this.kind = "usb"; this.port = null; this.writer = null; this.reader = null; }
  async open(onLine, onClose) {
    this.port = await navigator.serial.requestPort();
    await this.port.open({ baudRate: 115200 });
    // an ESP32 DevKitC resets on DTR/RTS: leave both released
    try { await this.port.setSignals({ dataTerminalReady: false, requestToSend: false }); } catch (e) { /* pty */ }
    const encoder = new TextEncoderStream();
    encoder.readable.pipeTo(this.port.writable);
    this.writer = encoder.writable.getWriter();
    const decoder = new TextDecoderStream();
    this.port.readable.pipeTo(decoder.writable).catch(() => {});
    this.reader = decoder.readable.getReader();
    const lines = new LineSplitter(onLine);
    (async () => {
      try {
        for (;;) {
          const { value, done } = await this.reader.read();
          if (done) break;
          lines.push(value);
        }
      } catch (e) { /* unplugged */ }
      onClose("serial port closed");
    })();
    this.writer.write("\n");  // ends any half line a previous host left
  }
  send(line) { this.writer.write(line + "\n"); }
  async close() {
    try { await this.reader.cancel(); await this.writer.close(); await this.port.close(); } catch (e) { /* gone */ }
  }
}

/* Bluetooth LE in Chrome on Android and desktop (navigator.bluetooth). Requests other than the
   read-only ones need a bonded, encrypted link: pair while the device's pairing window is open. */
class BleTransport {
  static available() { return "bluetooth" in navigator; }
  constructor() { this.kind = "ble"; this.device = null; this.rx = null; this.queue = Promise.resolve(); }
  async open(onLine, onClose) {
    this.device = await navigator.bluetooth.requestDevice({ filters: [{ services: [NUS_SERVICE] }] });
    this.device.addEventListener("gattserverdisconnected", () => onClose("Bluetooth link lost"));
    const server = await this.device.gatt.connect();
    const service = await server.getPrimaryService(NUS_SERVICE);
    this.rx = await service.getCharacteristic(NUS_RX);
    const tx = await service.getCharacteristic(NUS_TX);
    const lines = new LineSplitter(onLine);
    const text = new TextDecoder();
    tx.addEventListener("characteristicvaluechanged", (e) => lines.push(text.decode(e.target.value)));
    await tx.startNotifications();
  }
  send(line) {
    const bytes = new TextEncoder().encode(line + "\n");
    // in order, one ATT write at a time: a line longer than the MTU goes in pieces
    this.queue = this.queue.then(async () => {
      for (let i = 0; i < bytes.length; i += BLE_CHUNK_BYTES) {
        await this.rx.writeValueWithResponse(bytes.slice(i, i + BLE_CHUNK_BYTES));
      }
    }).catch(() => {});
  }
  close() { if (this.device && this.device.gatt.connected) this.device.gatt.disconnect(); }
}

window.RollerTransports = { BridgeTransport, SerialTransport, BleTransport, LineSplitter,
                            NUS_SERVICE, NUS_RX, NUS_TX, ROLLER_STATUS };
