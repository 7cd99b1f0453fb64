"""An independent trace oracle: judges what a scope and a regulator would see.

Input: a C1 scenario (its `events` are the stimuli: skin, usb, battery_v, injected faults, power)
and the C2 trace of the run (delivered current per `out` change, `state`, `fault`, `reset`,
`serial`, `button`, `hw`, `cue`). It never reads firmware internals: only the limits module, the
program table and the numbers declared below.

    violations(doc, events, end_ms=None) -> ["<ms> ms: <rule> <what>", ...] in time order
    assert_safe(doc, events, end_ms=None)   raises AssertionError naming the first few

Charge balance, the rule the firmware follows: every period is balanced by construction (the
negative half replays the positive one). Chosen changes (level, program, bench, entering RUN,
the end of a ramp-down) take effect at a period boundary. Involuntary cuts (lift-off, fault,
USB, power cut, watchdog reset) stop at once and may leave at most one half-period's charge at
the cap of the moment; that leftover never accumulates over repeated cuts (the next current
starts with the opposite polarity). So: (a) the net charge of every one-period window is small
but for windows at a change or a cut, (b) no polarity lasts longer than a half period, (c) the
net charge since power-on stays within one half-period at the hard max, (d) a session ended by
choice (ramp-down) without a cut nets to ~zero.
"""
import numpy as np

if __name__ == "__main__":  # run as a tool: make the firmware importable first
    from host_tools import paths

    paths.use_firmware_on_cpython()

from roller import limits  # noqa: E402

# --- the oracle's declared figures (one place) --------------------------------------------------
HARD_MAX_UA = limits.HARD_MAX_UA  # R1: 500 uA, whatever anyone asks
OVER_CAP_FAULT_MS = 2  # R2: over the cap at most 2 ms, and only with dac_stuck_high injected
PROBE_UA = limits.PROBE_UA  # R4: 15 uA without confirmed contact ...
PROBE_SLACK_UA = 2  # ... plus DAC rounding
CONFIRM_OHM = limits.CONTACT_CONFIRM_OHM * 110 // 100  # R4: confirmable at <= 150 kOhm and ...
LIFTOFF_OHM = limits.LIFTOFF_OHM * 110 // 100  # ... lifted off above 250 kOhm, + 10 % sense noise
RC_CONFIRM_OHM = limits.LIFTOFF_OHM  # R4: R||C skin with R up to this may be confirmed too (or
# when |Z| at the program frequency is confirmable): its capacitance lowers what the sense sees
CONFIRM_MS = limits.CONTACT_CONFIRM_MS  # R4: 150 ms of good skin before more than the probe
LIFTOFF_DROP_MS = 5  # R4: at probe level within 5 ms of a lift-off (shorter gaps are glitches)
# ... onto R||C skin, 5 ms from when the trace shows it: v/i of one sign above LIFTOFF_OHM with at
# least this current, not fallen over the last few ms (a falling current makes a capacitance's
# v/i read high), or at the compliance voltage; at the latest half a period after the lift-off
REVEAL_MIN_UA = 10
REVEAL_FALL_MS = 3
USB_OFF_MS = 10  # R6: no current 10 ms after USB power appears
WATCHDOG_RESET_MS = 300  # R9: a hung loop is reset within 300 ms
SENSE_CATCH_MS = 15  # R8: a stuck sense is caught within 2 half periods + this of current flow
SENSE_CATCH_MIN_UA = 20  # current a stuck sense must notice
ENABLE_CATCH_MS = 15  # a stuck enable switch is caught within 2 * max(period, 50 ms) + this
ENABLE_TEST_PERIOD_MS = limits.ENABLE_CHECK_PERIOD_MS
RAMP_UP_DIVISOR = 1200  # (a) ramp allowance half^2 * cap / this while rising (R5 ramp-up) ...
RAMP_DOWN_DIVISOR = 250  # ... and / this in the last 0.5 s + 2 periods before OFF/DONE
BALANCE_PERCENT = 10  # (a) window net within 10 % of the window's total |charge| ...
BALANCE_SLACK_UA_MS = 50  # ... + 50 uA*ms
STRETCH_SLACK_MS = 5  # (b) one polarity at most a half period + 5 ms ...
STRETCH_GAP_MS = 20  # ... and no current for longer than this (the skin was off) ends a stretch
POLARITY_STUCK_SLACK_MS = 5  # ... + 5 ms more while polarity_stuck is injected (caught in 3)
CUMULATIVE_SLACK_UA_MS = 100  # (c) |net since power-on| <= 500 uA * half + 100 uA*ms
SESSION_PERMILLE = 10  # (d) a session ended by choice nets within 1 % of its charge ...
SESSION_SLACK_UA_MS = 100  # ... + 100 uA*ms
RAMP_DOWN_MS = 500  # stop rule: OFF/DONE within 500 ms (or one period if longer) + 20 ms
STOP_SLACK_MS = 20
RISE_SLACK_UA = 5  # no rise of the amplitude after a ramp-down starts (model granularity)
BATTERY_STOP_MV = 3280  # R7: 3.30 V less the ADC noise: surely below the run limit ...
BATTERY_DETECT_MS = 2 * limits.BATTERY_FILTER_MS + 20  # ... seen within two 1 s filter windows
FAULT_LINGER_MS = 1000  # an injection (or an odd load) may still be what a fault reports
FAULT_TAIL_MS = 5  # an injected fault's effect on the current may outlast its clearing
HOLD_MS = 1000  # C3 hold (README: 1 s), surely seen after a 50 ms debounce, when the press ...
DEBOUNCE_MS = 50
DOUBLE_GAP_MS = 400  # ... comes this long after a release (else it may be a double click)
SLOW_TICK_MS = 10  # R11: contact time counts in 10 ms steps
# the declared operating range of the load: outside it a fault (refusal) is allowed
CLIPPED_MV = limits.COMPLIANCE_MV - 250  # at the compliance voltage (less 1 uA through 200 kOhm + rounding)
LOAD_MIN_OHM = 1_000
LOAD_MAX_OHM = 200_000
LOAD_MAX_NF = 1_000
HW_FAULTS = ("dac_stuck_high", "polarity_stuck", "enable_stuck_on",
             "sense_stuck_low", "sense_stuck_high", "vsense_stuck")
SENSE_FAULTS = ("sense_stuck_low", "sense_stuck_high", "vsense_stuck")
# heads (issue 17): what the scenario's `head` says is on. A known head caps the current at its
# limit (electrode area x the allowed density); no known head, no current at all (the self-test's
# probe aside); a new head counts only after it held still for HEAD_SETTLE_MS (or was on at
# power-on). A change stops the output within LIFTOFF_DROP_MS, as a lift-off does.
HEAD_LIMITS_UA = {"face": limits.head_limit_ua(limits.FACE_HEAD_AREA_MM2),
                  "eye": limits.head_limit_ua(limits.EYE_HEAD_AREA_MM2)}
HEAD_SETTLE_MS = limits.HEAD_SETTLE_MS
MAX_PER_RULE = 12  # messages per rule: the first few episodes say enough
NOTES_SHOWN = 8  # stimuli and changes named in a message


def violations(doc, events, end_ms=None):
    """Every violation found, as "<ms> ms: <rule> <what>" strings in time order."""
    from tests.oracle_timeline import Timeline  # here: the timeline reads the figures above

    tl = Timeline(doc, events, end_ms)
    found = []
    for check in (check_hw, check_caps, check_contact, check_usb, check_latched, check_fault_causes,
                  check_watchdog, check_stuck_sense, check_stuck_enable, check_stops, check_ramps,
                  check_windows, check_stretches, check_cumulative, check_sessions, check_cues,
                  check_heads):
        found += check(tl)[:MAX_PER_RULE]
    found.sort(key=lambda item: item[0])
    return ["%d ms: %s" % item for item in found]


def assert_safe(doc, events, end_ms=None, show=6):
    found = violations(doc, events, end_ms)
    if found:
        more = "" if len(found) <= show else "\n  ... and %d more" % (len(found) - show)
        listed = "\n  ".join(found[:show])
        raise AssertionError("%d oracle violation(s):\n  %s%s" % (len(found), listed, more))


# --- helpers -----------------------------------------------------------------------------------
def _episodes(mask):
    """(start, end) of the runs of True in a bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _trailing_max(values, window_ms, fill=0):
    """Max over the `window_ms` ending at each index (`fill` before the start), in O(n):
    van Herk / Gil-Werman, block prefix and suffix maxima."""
    w = int(window_ms)
    n = len(values)
    if w <= 1:
        return values.copy()
    blocks = -(-(n + w - 1) // w)
    padded = np.full(blocks * w, fill, dtype=values.dtype)
    padded[w - 1:w - 1 + n] = values
    grid = padded.reshape(blocks, w)
    prefix = np.maximum.accumulate(grid, axis=1).ravel()
    suffix = np.maximum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    i = np.arange(n)
    return np.maximum(suffix[i], prefix[i + w - 1])


def _trailing_min(values, window_ms, fill):
    return -_trailing_max(-values, window_ms, -fill)


def _near(tl, t0, t1):
    """The changes and cuts in [t0, t1], for a message: what was going on."""
    notes = ["%s at %d" % (what, t) for t, what in tl.notes if t0 <= t <= t1]
    more = " (+%d)" % (len(notes) - NOTES_SHOWN) if len(notes) > NOTES_SHOWN else ""
    return "; in it: " + ", ".join(notes[:NOTES_SHOWN]) + more if notes else ""


# --- the rules ---------------------------------------------------------------------------------
def check_hw(tl):
    """A hardware-rule violation (shoot-through) is never acceptable."""
    return [(t, "hardware rule broken: %s" % what) for t, what in tl.hw_events]


def check_caps(tl):
    """R1/R2: |I| <= 500 uA and <= the cap of the level/program (or bench) + margin; over it
    for at most 2 ms only while dac_stuck_high is injected (the trip takes that long)."""
    over = (tl.abs_ua > tl.allowed_ua) | (tl.abs_ua > HARD_MAX_UA)
    out = []
    for start, end in _episodes(over):
        stuck = tl.injected["dac_stuck_high"][start:end].all()
        if stuck and end - start <= OVER_CAP_FAULT_MS:
            continue
        peak = int(tl.abs_ua[start:end].max())
        out.append((start, "R1 %d uA over the cap (allowed %d uA) for %d ms" % (
            peak, int(tl.allowed_ua[start]), end - start)))
    return out


def check_contact(tl):
    """R4: above probe level only with skin confirmable for >= 150 ms; at probe level within
    5 ms of a lift-off. Exempt while a hardware fault is injected or the loop hangs."""
    exempt = tl.hw_exempt | tl.hang
    out = []
    bad = (tl.abs_ua > PROBE_UA + PROBE_SLACK_UA) & ~tl.contact_ok & ~exempt
    for start, end in _episodes(bad):
        out.append((start, "R4 %d uA without confirmed contact (skin %s) for %d ms" % (
            int(tl.abs_ua[start:end].max()), tl.skin_text(start), end - start)))
    bad = (tl.abs_ua > PROBE_UA) & tl.lifted & ~exempt
    for start, end in _episodes(bad):
        out.append((start, "R4 %d uA more than %d ms after a lift-off (skin %s)" % (
            int(tl.abs_ua[start:end].max()), LIFTOFF_DROP_MS, tl.skin_text(start))))
    return out


def check_heads(tl):
    """Issue 17: no current without a known head that has settled (or was on at power-on), and
    none above the head's limit; LIFTOFF_DROP_MS after a change, the old head's rules hold."""
    exempt = tl.current_exempt | tl.hang | tl.head_grace | tl.selftest
    out = []
    for start, end in _episodes((tl.abs_ua > 0) & ~tl.head_ok & ~exempt)[:MAX_PER_RULE]:
        out.append((start, "heads %d uA with head %s, not known and settled (for %d ms)" % (
            int(tl.abs_ua[start:end].max()), tl.head_text(start), end - start)))
    over = (tl.abs_ua > tl.head_allowed_ua) & (tl.head_allowed_ua > 0) & ~exempt
    for start, end in _episodes(over)[:MAX_PER_RULE]:
        out.append((start, "heads %d uA over the %s head's limit (%d ms)" % (
            int(tl.abs_ua[start:end].max()), tl.head_text(start), end - start)))
    return out


def check_usb(tl):
    """R6: no current 10 ms after USB power appears (a hung loop cannot react)."""
    bad = tl.usb_settled & (tl.abs_ua > 0) & ~tl.hang
    return [(s, "R6 %d uA with USB present" % int(tl.abs_ua[s:e].max())) for s, e in _episodes(bad)]


def check_latched(tl):
    """A fault latches: no current from the ms after it until a reset or a new self-test."""
    bad = tl.latched & (tl.abs_ua > 0)
    return [(s, "fault latched but %d uA flows" % int(tl.abs_ua[s:e].max())) for s, e in _episodes(bad)]


def check_fault_causes(tl):
    """A fault needs a cause: an injection, a torn write or corrupt flash (SELFTEST), a hang
    (WATCHDOG), or a load outside the declared operating range."""
    out = []
    for t, code in tl.faults:
        lo = max(0, t - FAULT_LINGER_MS)
        if tl.any_injected[lo:t + 1].any() or tl.odd_load[lo:t + 1].any():
            continue
        if code == "SELFTEST" and (tl.flash_corrupted_by(t) or tl.torn_by(t)):
            continue
        if code == "WATCHDOG" and tl.hang_before(t):
            continue
        context = _near(tl, t - 200, t)
        out.append((t, "fault %s without a cause (skin %s)%s" % (code, tl.skin_text(t), context)))
    return out


def check_watchdog(tl):
    """R9: a hung loop is reset within 300 ms."""
    return [(start, "R9 loop hung for %d ms without a watchdog reset" % (end - start))
            for start, end, reset in tl.hangs if not reset and end - start > WATCHDOG_RESET_MS
            and start + WATCHDOG_RESET_MS < tl.n and not tl.maybe_off[start:end].any()]


def check_stuck_sense(tl):
    """R8: once current flows, a stuck sense is caught within two half periods + 15 ms."""
    out = []
    for start, end, name in tl.injections:
        if name not in SENSE_FAULTS:
            continue
        caught = tl.first_fault_after(start)
        stop = min(end + 1, caught if caught is not None else tl.n)
        flowing = np.flatnonzero((tl.abs_ua[start:stop] >= SENSE_CATCH_MIN_UA) & ~tl.maybe_off[start:stop])
        for k, index in enumerate(flowing):
            t = start + int(index)
            if k + 1 > 2 * int(tl.half_ms[t]) + SENSE_CATCH_MS:
                out.append((t, "R8 %s injected at %d not caught after %d ms of current" % (name, start, k)))
                break
    return out


def check_stuck_enable(tl):
    """R10/R2: a stuck enable switch is caught at the next enable test (each period, or every
    50 ms with the output off), wherever the output could be tested (not in FAULT/CHARGING)
    and a load lets the test current flow (no skin: nothing flows, nothing to catch)."""
    out = []
    for start, end, name in tl.injections:
        if name != "enable_stuck_on":
            continue
        caught = tl.first_fault_after(start)
        stop = min(end, caught if caught is not None else tl.n)
        testable = np.flatnonzero(tl.testable[start:stop] & (tl.skin_ohm[start:stop] > 0))
        for k, index in enumerate(testable):
            t = start + int(index)
            if k + 1 > 2 * max(2 * int(tl.half_ms[t]), ENABLE_TEST_PERIOD_MS) + ENABLE_CATCH_MS:
                out.append((t, "enable_stuck_on injected at %d not caught after %d ms" % (start, k)))
                break
    return out


def check_stops(tl):
    """After an accepted stop (serial stop, hold, low battery, session end) the state is OFF or
    DONE within 0.5 s (one period if longer) + 20 ms (or FAULT/CHARGING/OFF if something intervenes),
    and the amplitude never rises on the way."""
    out = []
    for t, why in tl.stops:
        # docs/safety.md: the ramp is planned to the last period end within 0.5 s (the first
        # period end, for periods longer than that)
        deadline = t + max(RAMP_DOWN_MS, 2 * tl.max_half(t, t + RAMP_DOWN_MS + 2000)) + STOP_SLACK_MS
        ended = tl.first_end_after(t)
        if (ended is None or ended > deadline) and deadline < tl.n and not tl.stop_excused(t, deadline):
            out.append((deadline, "stop (%s at %d ms) not obeyed: still %s at the deadline%s" % (
                why, t, tl.state_name(deadline), _near(tl, t, deadline))))
            continue
        stop = min(ended if ended is not None else tl.n, tl.n)
        rise = _rise_after(tl, t, stop)
        if rise is not None:
            out.append((rise[0], "amplitude rose to %d uA (from %d) after a stop (%s at %d ms)%s" % (
                rise[1], rise[2], why, t, _near(tl, t, rise[0]))))
    return out


def _rise_after(tl, t, stop):
    """The first ms in [t, stop) where the envelope (peak over a period, or a burst cycle) is
    above its lowest since t; (ms, uA, lowest uA) or None."""
    # the half under way at the stop, and its mirror, replay what was commanded before it
    t += 2 * int(tl.half_ms[t])
    if stop <= t or (tl.hw_exempt[t:stop] | tl.hang[t:stop]).any():
        return None
    window = int(tl.window_ms[t:stop].max())
    lo = max(0, t - window + 1)
    envelope = _trailing_max(tl.abs_ua[lo:stop], window)[t - lo:]
    lowest = np.minimum.accumulate(envelope)
    # a burst gap hides the envelope: it may have risen (at most as R5 allows) unseen before t
    unseen_ms = (window - 2 * int(tl.half_ms[t])) // 2
    slack = RISE_SLACK_UA + int(tl.cap_ua[t:stop].max()) * unseen_ms // 1000
    bad = np.flatnonzero((envelope > lowest + slack) & (envelope > PROBE_UA + PROBE_SLACK_UA))
    if not len(bad):
        return None
    i = int(bad[0])
    return t + i, int(envelope[i]), int(lowest[i])


def check_ramps(tl):
    """R5 on each stretch of RUN at one cap: the amplitude never outruns 10 % of the cap per
    100 ms (as tests/test_stateful.py's Checker.check_ramps did), starting from the amplitude
    just before the stretch (peak over a period, or a burst cycle), so that a step back to an
    old level shows too."""
    out = []
    for start, end in tl.run_segments:
        if (tl.hw_exempt[start:end] | tl.hang[start:end]).any():
            continue
        cap = int(tl.cap_ua[start])
        window = 2 * int(tl.half_ms[start])
        lo = max(0, start - window)
        envelope = _trailing_max(tl.abs_ua[lo:end], window)[start - lo:].astype(float)
        before = max(int(tl.window_ms[start]), window)
        level_before = tl.abs_ua[max(0, start - before):start].max() if start else 0
        envelope = np.concatenate([[level_before], envelope])
        keep = envelope > PROBE_UA + 5
        keep[0] = True  # where a step would start from
        ahead = envelope[keep] - cap / 1000 * np.arange(len(envelope))[keep]
        rises = ahead - np.minimum.accumulate(ahead)
        if rises.max() > cap * window / 1000 + PROBE_UA + 5:
            at = start - 1 + int(np.arange(len(envelope))[keep][int(rises.argmax())])
            out.append((at, "R5 ramp too steep in RUN (stretch from %d ms, cap %d uA): +%d uA over the "
                            "allowed slope" % (start, cap, int(rises.max()))))
    return out


def check_windows(tl):
    """(a) Net charge over every one-period window: within max(10 % of its |charge|, a ramp
    allowance, the amplitude step between its halves x half) + 50 uA*ms, or one half period at
    the cap where a change or a cut falls in it. (A chosen change at a period boundary, burst
    gating included, nets h * |step| in a window across it; every aligned period nets zero.)"""
    n = tl.n
    period = 2 * tl.half_ms
    ends = np.arange(1, n + 1)
    starts = ends - period
    ok = starts >= 0
    ends, starts, period = ends[ok], starts[ok], period[ok]
    half = period // 2
    net = tl.q_cum[ends] - tl.q_cum[starts]
    total = tl.abs_cum[ends] - tl.abs_cum[starts]
    # amplitude step: how much the peak over a period changes from the period before the
    # window to the window and to the period after it (a steady but lopsided waveform has none)
    step = np.zeros(len(ends), dtype=np.int64)
    for p in np.unique(period):
        pick = period == p
        peak = np.concatenate([_trailing_max(tl.abs_ua, int(p)), np.zeros(int(p), dtype=np.int64)])
        before, last = np.maximum(starts[pick] - 1, 0), ends[pick] - 1
        seen = np.stack([peak[before], peak[last], peak[last + p]])
        step[pick] = seen.max(axis=0) - seen.min(axis=0)
    cap = np.maximum(tl.cap_ua[starts], tl.cap_ua[ends - 1])
    divisor = np.where(tl.ramping_down[ends - 1], RAMP_DOWN_DIVISOR, RAMP_UP_DIVISOR)
    # + one ms at the cap: a fast waveform's enable-test zero tick has its mirror half a period
    # later, so a window may hold one of the two
    allowed = np.maximum(np.maximum(total * BALANCE_PERCENT // 100, half * half * cap // divisor),
                         half * step) + BALANCE_SLACK_UA_MS + tl.allowed_ua[ends - 1]
    # at the compliance voltage the load, not the source, sets the current: with skin
    # capacitance the halves differ (the voltage is clamped both ways; (c) bounds the sum)
    changed = ((tl.change_cum[ends] - tl.change_cum[starts]) > 0) | (
        (tl.limited_cum[ends] - tl.limited_cum[starts]) > 0)
    cut_allowed = half * tl.allowed_ua[ends - 1] + BALANCE_SLACK_UA_MS
    allowed = np.where(changed, np.maximum(allowed, cut_allowed), allowed)
    exempt = (tl.exempt_cum[ends] - tl.exempt_cum[starts]) > 0
    bad = (np.abs(net) > allowed) & ~exempt
    mask = np.zeros(n, dtype=bool)
    mask[ends[bad] - 1] = True
    out = []
    lookup = np.zeros(n + 1, dtype=np.int64)
    lookup[ends] = np.arange(len(ends))
    for s, e in _episodes(mask):
        worst = s + int(np.argmax(np.abs(net[lookup[s + 1:e + 1]])))
        i = lookup[worst + 1]
        out.append((worst, "R3 (a) net %+d uA*ms in the period window %d..%d ms (allowed %d, total %d)%s" % (
            int(net[i]), int(starts[i]), worst, int(allowed[i]), int(total[i]),
            _near(tl, int(starts[i]) - int(period[i]), worst))))
    return out


def check_stretches(tl):
    """(b) One polarity above the probe lasts at most a half period + 5 ms. A zero tick does not
    end it (a cut
    in a positive half restarted by another positive half is one long stretch), but no current
    for longer than STRETCH_GAP_MS does: the skin was off, and when it comes back is not the
    firmware's to choose ((c) bounds what such gaps can add up to). A new power cycle or the
    end of a hang starts afresh."""
    # the ms above the probe: at probe level an open-circuit gap may swallow any half, and what
    # the probe can add up to is (c)'s to judge
    nz = np.flatnonzero((tl.sign != 0) & (tl.abs_ua > PROBE_UA + PROBE_SLACK_UA))
    if not len(nz):
        return []
    signs = tl.sign[nz]
    epoch = tl.epoch[nz]
    gap = np.diff(nz) > STRETCH_GAP_MS
    new_run = np.concatenate([[True], (signs[1:] != signs[:-1]) | (epoch[1:] != epoch[:-1]) | gap])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.concatenate([starts, [len(nz)]]))
    first_ms = nz[starts]
    last_ms = nz[starts + lengths - 1]
    half_max = np.maximum.reduceat(tl.half_ms[nz], starts)
    stuck = np.maximum.reduceat(tl.injected["polarity_stuck"][nz].astype(np.int8), starts) > 0
    limit = half_max + STRETCH_SLACK_MS + np.where(stuck, POLARITY_STUCK_SLACK_MS, 0)
    hung = np.maximum.reduceat(tl.hang[nz].astype(np.int8), starts) > 0
    out = []
    for i in np.flatnonzero((lengths > limit) & ~hung):
        a, b = int(first_ms[i]), int(last_ms[i])
        polarity = "positive" if signs[starts[i]] > 0 else "negative"
        peak = int(tl.abs_ua[a:b + 1].max())
        text = "R3 (b) %d ms of %s current from %d to %d ms (half period %d ms, peak %d uA%s)" % (
            int(lengths[i]), polarity, a, b, int(half_max[i]), peak,
            ", polarity_stuck injected" if stuck[i] else "")
        out.append((a + int(limit[i]), text + _near(tl, a, b)))
    return out


def check_cumulative(tl):
    """(c) Net charge since power-on (or since a hang / hardware fault ended) within one half
    period at the hard max + 100 uA*ms: cuts never accumulate."""
    out = []
    for start, end in tl.epochs:
        if end <= start or tl.hw_exempt[start:end].all():
            continue
        q = np.cumsum(tl.ua[start:end])
        half_seen = np.maximum.accumulate(tl.half_ms[start:end])
        bound = HARD_MAX_UA * half_seen + CUMULATIVE_SLACK_UA_MS
        bad = np.flatnonzero((np.abs(q) > bound) & ~tl.hw_exempt[start:end] & ~tl.hang[start:end])
        if len(bad):
            t = start + int(bad[0])
            out.append((t, "R3 (c) net charge %+d uA*ms since %d ms (bound %d)%s" % (
                int(q[bad[0]]), start, int(bound[bad[0]]), _near(tl, start, t))))
    return out


def check_sessions(tl):
    """(d) A session (leaving OFF .. back in OFF/DONE) ended by a ramp-down, without a cut,
    nets to within 1 % of its |charge| + 100 uA*ms, + one probe half for each time the skin
    arrived in it (the load appears mid-half: the open circuit swallowed the rest), + one half
    at the cap for each time the load drove the electrode into compliance (the rest of that
    half is clipped; the source cannot push more charge through the load)."""
    out = []
    for start, end, touch_downs, clipped, half in tl.chosen_sessions:
        net = int(tl.q_cum[end] - tl.q_cum[start])
        total = int(tl.abs_cum[end] - tl.abs_cum[start])
        allowed = total * SESSION_PERMILLE // 1000 + SESSION_SLACK_UA_MS
        allowed += touch_downs * half * (PROBE_UA + PROBE_SLACK_UA)
        allowed += clipped * half * int(tl.allowed_ua[start:end].max())
        if abs(net) > allowed:
            out.append((end, "R3 (d) session %d..%d ms ended by choice nets %+d uA*ms (total %d, "
                             "allowed %d)" % (start, end, net, total, allowed)))
    return out


def check_cues(tl):
    """R11: a zone cue every cue_s seconds of contact time (RUN), each RUN stretch rounding by
    one 10 ms step."""
    out = []
    for t0, t1, entries, cue_s in tl.cue_gaps:
        gap_ms = int(tl.run_cum[t1] - tl.run_cum[t0])
        if abs(gap_ms - cue_s * 1000) > 10 * (entries + 1) + 5:
            out.append((t1, "R11 cue after %d ms of contact (cue_s %d)" % (gap_ms, cue_s)))
    return out




def main(argv):
    """`python -m tests.oracle SCENARIO.json TRACE.jsonl`: the violations; exit 1 if any."""
    import json

    with open(argv[0]) as f:
        doc = json.load(f)
    with open(argv[1]) as f:
        events = [json.loads(line) for line in f]
    found = violations(doc, events)
    print("\n".join(found) or "no violations")
    return 1 if found else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
