// The Raspberry Pi Pico under rp2040js, driven by host_tools/emu_link.py over stdin/stdout.
//
// argv: BOOTROM FLASH_FILE. The flash file is the chip's 2 MB flash (the UF2 laid in by the
// host); every erase and program is written through to it, so it survives a restart or a kill.
// Lines out: "D <hex>" USB CDC bytes from the Pico; "P <us> <step> <pins...>" the pins at each
// emulated ms and when the firmware starts its current-sense conversion (step 2, else 1 or 0: the front end
// moves on one step there, so the sense answers the pins the last tick wrote, as the sim board
// steps its model once per tick, also when ticks come in a burst after a slow flash write; with
// no conversion for 1.5 ms (REPL, hang) it steps at the ms); the host answers "A ..." before
// the Pico runs on; "R <cause>" a chip reset (watchdog, software, power; off: the power is cut);
// "G <us> <0|1>" an edge of the output-enable pin; "T <us> <text>" a line the firmware wrote to
// WATCHDOG SCRATCH0 byte by byte (the emulation probe, boards/rp2040_pico/emu_probe.py);
// "E <message>" a fatal error. Lines in: "D <hex>" bytes for the Pico, "A <adc0> <adc1> <vbat>
// <usb> <button> <head>" the analog front end's answer (ADC2 reads vbat or head, as the analog
// switch's select pin says at the conversion), "F <fault>" a fault of the chip (hang, unhang,
// power, off, on, tear, flip <offset>), "Q" quit.
// The three gaps of rp2040js 1.4.1 (../shared/micropython/README.md) are filled here: USB OUT
// transfers wait for data, flash erase/program happen at the boot ROM's routines, and the
// watchdog resets the chip.
import fs from 'node:fs';
import { RP2040, USBCDC, ConsoleLogger, LogLevel } from 'rp2040js';

const FLASH_BYTES = 2 * 1024 * 1024;
const NS_PER_CYCLE = 8; // 125 MHz
const NS_PER_MS = 1000000;
const PIN = { enable: 20, legA: 18, legB: 19, cue: 22, usb: 24, button: 21, adcMux: 14 };
const ADC_PINS = 2; // ADC0-1: current, electrode voltage; ADC2 the battery or the head ID
const PWM_PINS = [16, 10, 11, 12]; // setpoint, LED R, G, B
const FUNCTION_PWM = 4;
// boot ROM routines (looked up by their table codes) and what the hook does in their place
const ROM_HOOKS = { RE: 1, RP: 2, IF: 3, EX: 3, FC: 3, CX: 3 };
const BKPT = 0xbe00;
const SCRATCH0 = 0x0c; // WATCHDOG SCRATCH0: the emulation probe's byte channel
const STEP_IDLE_NS = 1500000; // no sense conversion for this long (REPL, hang): step at the ms
// mp_hal_delay_us's busy-wait loop in the pinned UF2 (`bl time_us_64; cmp r5, r1; bhi; ...`): the
// harness waits there in emulated time (interrupts still taken), an emulator's WFI for a loop
// that would otherwise cost most of the wall time
const DELAY_LOOP = { at: 0x2fcc8, exit: 0x1002fcd6, code: '05f0fcfb8d42fbd8', hook: 4 };

const [bootromPath, flashPath] = process.argv.slice(2);

function fatal(message) {
  fs.writeSync(1, 'E ' + message.replace(/\n/g, ' ') + '\n');
  process.exit(1);
}

function send(line) {
  fs.writeSync(1, line + '\n');
}

// --- boot ROM: its flash routines become breakpoints the harness answers ----------------------
const rom = new Uint8Array(16 * 1024);
rom.set(fs.readFileSync(bootromPath));
const romView = new DataView(rom.buffer);
const hookAt = new Map(); // ROM address -> hook kind
for (let entry = romView.getUint16(0x14, true); romView.getUint16(entry, true); entry += 4) {
  const code = romView.getUint16(entry, true);
  const name = String.fromCharCode(code & 0xff, code >> 8);
  if (ROM_HOOKS[name]) {
    const address = romView.getUint16(entry + 2, true) & ~1;
    hookAt.set(address, ROM_HOOKS[name]);
    romView.setUint16(address, BKPT | ROM_HOOKS[name], true);
  }
}
if (hookAt.size !== Object.keys(ROM_HOOKS).length) fatal(bootromPath + ': not an RP2040 boot ROM');
const bootrom = new Uint32Array(rom.buffer);

const flashFd = fs.openSync(flashPath, 'r+');
const flashImage = new Uint8Array(FLASH_BYTES);
if (fs.readSync(flashFd, flashImage, 0, FLASH_BYTES, 0) !== FLASH_BYTES) fatal(flashPath + ': not a 2 MB flash image');
const delayHook =
  Buffer.from(flashImage.subarray(DELAY_LOOP.at, DELAY_LOOP.at + 8)).toString('hex') === DELAY_LOOP.code;

// --- one chip; a reset makes a new one around the same flash ---------------------------------
let mcu, cdc, rxPending, resetCause, hung, stepDue, lastStepNs, untilNs;
let off = false; // the power is cut: no chip runs until "F on"
let tear = false; // the next flash program is cut half way, and the power with it
let chipStartUs = 0; // emulated time at the last reset: the chip's clock starts again there
let probe = ''; // the probe's line so far
const rx = []; // bytes from the host not yet taken by the Pico

function deliver() {
  // gap 1: an armed OUT transfer is answered only when there is data (rp2040js answers at
  // once with zero bytes, a USB interrupt every few us)
  if (!rxPending || !rx.length) return;
  const size = rxPending;
  rxPending = 0;
  cdc.usb.endpointReadDone(cdc.outEndpoint, Uint8Array.from(rx.splice(0, size)));
}

function boot(reason) {
  mcu = new RP2040();
  mcu.logger = new ConsoleLogger(LogLevel.Error);
  mcu.loadBootrom(bootrom);
  mcu.flash.set(flashImage);
  if (delayHook) mcu.flash16[DELAY_LOOP.at >> 1] = BKPT | DELAY_LOOP.hook;
  mcu.onBreak = onBreak;
  const adcRead = mcu.adc.onADCRead;
  mcu.adc.onADCRead = (channel) => {
    if (channel === 2 && inputs) {
      mcu.adc.channelValues[2] = Number(inputs[mcu.gpio[PIN.adcMux].outputValue ? 2 : 5]);
    }
    adcRead(channel);
    if (channel === 0) stepDue = true; // one per tick (sample() reads the current first)
  };
  stepDue = false;
  lastStepNs = 0;
  const watchdog = mcu.peripherals[0x40058];
  watchdog.reason = reason; // what machine.reset_cause() reads after the reset
  // gap 3: the watchdog resets the chip (at the end of this instruction), keeping the flash
  watchdog.onWatchdogTrigger = () => {
    // the chip resets: stop the alarm (rp2040js 1.4.1 would re-arm it 0 ns ahead at count 0, for ever)
    watchdog.alarm.enable = false;
    if (!off) resetCause = watchdog.reason & 1 ? 'watchdog' : 'software';
  };
  const write = watchdog.writeUint32.bind(watchdog);
  watchdog.writeUint32 = (offset, value) => {
    if ((offset & 0xfff) !== SCRATCH0) return write(offset, value);
    if (value !== 10) probe += String.fromCharCode(value & 0xff);
    else {
      send('T ' + (chipStartUs + Math.floor(mcu.clock.nanos / 1000)) + ' ' + probe);
      probe = '';
    }
  };
  rxPending = 0;
  hung = false;
  // the output-enable pin's edges to the µs (the over-current trip's latency)
  mcu.gpio[PIN.enable].addListener((state) => {
    if (!off) send('G ' + (chipStartUs + Math.floor(mcu.clock.nanos / 1000)) + ' ' + (state === 1 ? 1 : 0));
  });
  cdc = new USBCDC(mcu.usbCtrl);
  cdc.onSerialData = (data) => send('D ' + Buffer.from(data).toString('hex'));
  cdc.usb.onEndpointRead = (endpoint, size) => {
    if (endpoint !== cdc.outEndpoint) return;
    rxPending = size;
    deliver();
  };
  mcu.core.PC = 0x10000000; // boot2 at the start of flash, as the ROM would enter it
}

function scratch() {
  return mcu.peripherals[0x40058].scratchData;
}

// gap 2: the ROM's flash routines, done on the image and written through to the file
function onBreak(kind) {
  const core = mcu.core;
  const r = core.registers;
  if (kind === 1) {
    flashImage.fill(0xff, r[0], r[0] + r[1]);
    mcu.flash.fill(0xff, r[0], r[0] + r[1]);
    fs.writeSync(flashFd, flashImage, r[0], r[1], r[0]);
  } else if (kind === 2) {
    if (tear) {
      // cut_during_write: half the bytes reach the cells, then the power goes
      tear = false;
      r[2] = Math.max(1, r[2] >> 1);
      resetCause = 'off';
    }
    for (let i = 0; i < r[2]; i++) flashImage[r[0] + i] &= mcu.readUint8(r[1] + i); // NOR: bits only fall
    mcu.flash.set(flashImage.subarray(r[0], r[0] + r[2]), r[0]);
    fs.writeSync(flashFd, flashImage, r[0], r[2], r[0]);
  } else if (kind === DELAY_LOOP.hook) {
    delayLoop(core, r);
    return;
  } else if (kind !== 3) {
    fatal('breakpoint ' + kind + ' at 0x' + core.PC.toString(16));
  }
  core.PC = core.LR & ~1;
}

function delayLoop(core, r) {
  // while (time_us_64() < r5:r4): now from the timer, then on to the next alarm, the end of the
  // wait or the end of this ms, whichever is first; the BKPT runs again after any interrupt
  const clock = mcu.clock;
  const nowUs = Math.floor(clock.nanos / 1000);
  const endUs = r[5] * 4294967296 + r[4];
  if (nowUs >= endUs) {
    core.PC = DELAY_LOOP.exit;
    return;
  }
  core.PC -= 2;
  const next = clock.nanosToNextAlarm;
  let waitNs = Math.min((endUs - nowUs) * 1000 - (clock.nanos % 1000), untilNs - clock.nanos);
  if (next > 0 && next < waitNs) waitNs = next;
  if (waitNs > 0) clock.tick(waitNs);
}

// --- the host's side of the pins ---------------------------------------------------------------
function pwmDuty(pin) {
  const gpio = mcu.gpio[pin];
  if (gpio.functionSelect !== FUNCTION_PWM) return gpio.outputValue ? 65535 : 0;
  const ch = mcu.pwm.channels[(pin >> 1) & 7];
  if (!(ch.csr & 1)) return 0;
  const cc = pin & 1 ? ch.cc >>> 16 : ch.cc & 0xffff;
  return Math.min(65535, Math.round((Math.min(cc, ch.top + 1) * 65536) / (ch.top + 1)));
}

function pins() {
  const out = (n) => (mcu.gpio[n].outputValue ? 1 : 0);
  return [out(PIN.enable), out(PIN.legA), out(PIN.legB), ...PWM_PINS.map(pwmDuty), out(PIN.cue)].join(' ');
}

function applyInputs(words) {
  for (let ch = 0; ch < ADC_PINS; ch++) mcu.adc.channelValues[ch] = Number(words[ch]);
  mcu.gpio[PIN.usb].setInputValue(words[3] === '1');
  mcu.gpio[PIN.button].setInputValue(words[4] !== '1'); // pressed pulls it low
}

// --- the host's lines ----------------------------------------------------------------------------
let answer = null; // resolves the wait for "A"
let inputs = null; // the last answer, applied again after a reset
let quitting = false;
let partial = '';
process.stdin.on('data', (chunk) => {
  const lines = (partial + chunk.toString('latin1')).split('\n');
  partial = lines.pop();
  for (const line of lines) {
    const kind = line[0];
    if (kind === 'D') {
      for (const byte of Buffer.from(line.slice(2), 'hex')) rx.push(byte);
      deliver();
    } else if (kind === 'A') {
      inputs = line.slice(2).split(' ');
      applyInputs(inputs);
      if (answer) answer();
    } else if (kind === 'F') {
      fault(line.slice(2));
    } else if (kind === 'Q') {
      quit();
    }
  }
});
process.stdin.on('end', quit);

function fault(line) {
  const [name, arg] = line.split(' ');
  if (name === 'hang') hung = true; // the core stops: a branch-to-self with interrupts masked
  else if (name === 'unhang') hung = false;
  else if (name === 'power') resetCause = 'power'; // a cut and the power back at once
  else if (name === 'off') resetCause = off ? resetCause : 'off';
  else if (name === 'on') resetCause = off ? 'power' : resetCause;
  else if (name === 'tear') tear = true;
  else if (name === 'flip') flip(Number(arg));
  else fatal('unknown chip fault ' + name);
}

function flip(offset) {
  // flash_corrupt: one bit of one byte changes in the cells, as a failing flash cell would
  if (!(offset >= 0 && offset < FLASH_BYTES)) fatal('flip outside the flash: ' + offset);
  flashImage[offset] ^= 1;
  mcu.flash[offset] = flashImage[offset];
  fs.writeSync(flashFd, flashImage, offset, 1, offset);
}

function quit() {
  quitting = true;
  if (answer) answer();
}

// --- the run loop: one emulated ms, then the front end's answer -------------------------------
function runUntil() {
  const { core, clock } = mcu;
  while (clock.nanos < untilNs && !resetCause && !stepDue) {
    if (off) {
      clock.tick(untilNs - clock.nanos);
    } else if (hung || core.waiting) {
      // whole cycles: an alarm a fraction of a ns away (the watchdog's 2 MHz timer) is reached
      const next = Math.max(NS_PER_CYCLE, Math.ceil(clock.nanosToNextAlarm));
      clock.tick(clock.nanos + next < untilNs ? next : untilNs - clock.nanos);
    } else {
      clock.tick(core.executeInstruction() * NS_PER_CYCLE);
    }
  }
}

async function exchange(us, step) {
  const replied = new Promise((resolve) => (answer = resolve));
  send('P ' + us + ' ' + step + ' ' + pins());
  await replied;
  answer = null;
}

async function main() {
  boot(0);
  let ms = 1;
  while (!quitting) {
    untilNs = (ms * 1000 - chipStartUs) * 1000;
    runUntil();
    if (resetCause) {
      send('R ' + resetCause);
      chipStartUs += Math.floor(mcu.clock.nanos / 1000);
      off = resetCause === 'off'; // a new chip that does not run: its pins at their reset levels
      // the watchdog's SCRATCH1-3 survive its own resets, as on the chip (a power cut clears
      // them; 0 is the probe's channel, 4-7 the boot ROM's): the maintenance boot's request
      const kept = resetCause === 'watchdog' || resetCause === 'software' ? scratch().slice(1, 4) : null;
      boot(resetCause === 'watchdog' ? 1 : resetCause === 'software' ? 2 : 0);
      if (kept) scratch().set(kept, 1);
      resetCause = null;
      probe = '';
      if (inputs) applyInputs(inputs);
      continue;
    }
    const nowNs = mcu.clock.nanos;
    const us = chipStartUs + Math.floor(nowNs / 1000);
    if (stepDue) {
      stepDue = false;
      lastStepNs = nowNs;
      await exchange(us, 2);
    } else {
      ms += 1;
      const step = nowNs - lastStepNs >= STEP_IDLE_NS;
      if (step) lastStepNs = nowNs;
      await exchange(us, step ? 1 : 0);
    }
  }
  fs.closeSync(flashFd);
  process.exit(0);
}

process.on('uncaughtException', (err) => fatal('emulator: ' + err.message));
main();
