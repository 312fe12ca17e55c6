// roomline door panel. It holds an API key in this tablet's localStorage and calls the real
// APIs: REST_GetReservationsForSpace to show the state, REST_CreateReservation to book now,
// /api/booking/reservations/{id}/check-in|end|extend at the door. The space, its check-in
// rules, which reservations are checked in and the server's clock come from /api/panel/{space}.
//
// Live updates: EventSource cannot send the ApiKey header, so the change stream
// (/api/booking/changes/stream?space=...) is read with fetch() and a ReadableStream; every
// event reloads the state. While the stream is down the panel polls every `refresh` seconds
// and reconnects with back-off; when the server cannot be reached it says "Offline" and
// keeps trying every few seconds, recovering by itself.
"use strict";

(function () {
  const STORE = "roomline.panel";
  const MINUTE = 60 * 1000;
  const OFFLINE_RETRY_MS = 5000;
  const LIVE_SAFETY_POLL_MS = 10 * MINUTE; // while live, a slow poll in case an event was missed
  const STREAM_SILENCE_MS = 40 * 1000; // the server pings every 15 s; silence this long = gone
  const body = document.body;
  const space = body.dataset.space;
  const refreshSeconds = Number(body.dataset.refresh) || 30;
  const $ = (selector) => document.querySelector(selector);

  let info = null; // the space, its rules and the server's clock, from /api/panel/{space}
  let fetchedAt = 0; // performance.now() when ``info`` arrived
  let items = []; // the Get collection, with each one's check-in time
  let acting = false; // a booking or a door action is under way
  let offline = false;
  let live = false; // the change stream is connected
  let streaming = null; // the stream's AbortController while one is open or opening
  let streamRefused = false; // the key may not read changes: poll only
  let streamDelay = 1000;
  let streamRetry = null; // the timer of the stream's next try, while one waits out its back-off
  let pollTimer = null;
  let loading = null;
  let loadAgain = false;

  function settings() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (error) { return {}; }
  }
  function save(values) { localStorage.setItem(STORE, JSON.stringify(values)); }

  function takeSettingsFromAddress() {
    // ?key=...&applicant=... is taken once, kept on the tablet, and removed from the address.
    const params = new URLSearchParams(location.search);
    if (!params.has("key") && !params.has("applicant")) return;
    const current = settings();
    save({
      key: params.get("key") || current.key || "",
      applicant: params.get("applicant") || current.applicant || "",
    });
    params.delete("key");
    params.delete("applicant");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : ""));
  }

  const instant = (text) => Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
  const utc = (ms) => new Date(ms).toISOString().slice(0, 19) + "Z";
  const now = () => instant(info.now) + (performance.now() - fetchedAt);

  function clockText(ms, withDay) {
    const options = { timeZone: info.time_zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withDay) Object.assign(options, { weekday: "short" });
    return new Intl.DateTimeFormat("en-GB", options).format(new Date(ms));
  }
  const sameDay = (a, b) => {
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: info.time_zone });
    return day.format(new Date(a)) === day.format(new Date(b));
  };
  const at = (ms, reference) => clockText(ms, !sameDay(ms, reference));
  function countdown(ms) {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    const m = Math.floor(seconds / 60);
    return `${m}:${String(seconds % 60).padStart(2, "0")}`;
  }

  async function send(path, payload, extraHeaders) {
    const headers = { ApiKey: settings().key, "Content-Type": "application/json", ...extraHeaders };
    const response = await fetch(path, {
      method: "POST", headers, body: JSON.stringify(payload), cache: "no-store",
    });
    let answer = {};
    try { answer = await response.json(); } catch (error) { answer = {}; }
    return { ok: response.ok, status: response.status, body: answer };
  }
  function workflow(name, payload) {
    const elementId = info.application_element_ids[name];
    return send(`/api/V1/Action/${name}`, payload, elementId ? { ApplicationElementId: elementId } : {});
  }
  const atTheDoor = (ultimoId, action, payload) =>
    send(`/api/booking/reservations/${ultimoId}/${action}`, payload || {});

  function showSetup(problem) {
    body.classList.add("needs-setup");
    const form = $("[data-setup]");
    form.hidden = false;
    form.elements.applicant.value = settings().applicant || "";
    $("[data-setup-problem]").textContent = problem || "";
    (form.elements.key.value ? form.elements.applicant : form.elements.key).focus();
  }
  function hideSetup() {
    body.classList.remove("needs-setup");
    $("[data-setup]").hidden = true;
  }

  // Loading the state: one at a time; a request for another while one runs runs once after it.
  function refresh() {
    if (loading) { loadAgain = true; return loading; }
    loading = load().finally(() => {
      loading = null;
      if (loadAgain) { loadAgain = false; refresh(); } else { schedule(); }
    });
    return loading;
  }

  function schedule() {
    clearTimeout(pollTimer);
    const wait = offline ? OFFLINE_RETRY_MS : live ? LIVE_SAFETY_POLL_MS : refreshSeconds * 1000;
    pollTimer = setTimeout(refresh, wait);
    showConnection();
  }

  async function load() {
    const { key } = settings();
    if (!key) { showSetup(); return; }
    let response;
    let answer;
    try {
      response = await fetch(`/api/panel/${encodeURIComponent(space)}`, {
        headers: { ApiKey: key }, cache: "no-store",
      });
      answer = await response.json();
    } catch (error) { goOffline(); return; }
    if (response.status === 401 || response.status === 403) {
      showSetup(`The key was refused: ${answer.message}`);
      return;
    }
    if (response.status >= 500) { goOffline(); return; }
    if (!response.ok) { showTrouble(answer.message || `Error ${response.status}`); return; }
    info = answer;
    fetchedAt = performance.now();
    const t = now();
    let got;
    try {
      got = await workflow("REST_GetReservationsForSpace", {
        SpaceId: space, From: utc(t - 12 * 60 * MINUTE), Till: utc(t + 36 * 60 * MINUTE),
      });
    } catch (error) { goOffline(); return; }
    if (!got.ok) {
      if (got.status === 401 || got.status === 403) showSetup(`The key was refused: ${got.body.message}`);
      else if (got.status >= 500) goOffline();
      else showTrouble(got.body.message || `Error ${got.status}`);
      return;
    }
    items = got.body.properties.Output.collection.map((item) => ({
      id: item.UltimoId,
      description: item.Description,
      who: item.ApplicantName,
      start: instant(item.StartTime),
      end: instant(item.EndTime),
      blockedStart: instant(item.StartTimeIncludingPreparationTime),
      blockedEnd: instant(item.EndTimeIncludingCleanupTime),
      checkedIn: info.checked_in[item.UltimoId] ? instant(info.checked_in[item.UltimoId]) : null,
    }));
    if (offline && streamRetry) {
      // Back after being unreachable: open the stream now, not after its back-off.
      clearTimeout(streamRetry);
      streamRetry = null;
      streamDelay = 1000;
    }
    offline = false;
    body.classList.remove("offline");
    hideSetup();
    $("[data-updated]").textContent = `Updated ${clockText(now())}`;
    render();
    if (!streamRetry) openStream();
  }

  function goOffline() {
    offline = true;
    body.classList.add("offline");
    render();
  }

  function showTrouble(message) {
    const state = $("[data-state]");
    state.className = "state unknown";
    $("[data-state-word]").textContent = "Unavailable";
    $("[data-state-until]").textContent = "";
    $("[data-state-detail]").textContent = message;
    $("[data-book]").hidden = true;
    $("[data-door]").hidden = true;
  }

  function showConnection() {
    const badge = $("[data-live]");
    badge.className = `live ${offline ? "is-offline" : live ? "is-live" : "is-polling"}`;
    badge.textContent = offline
      ? "Offline — retrying"
      : live ? "● Live" : `Updating every ${refreshSeconds} s`;
  }

  // The change stream, read with fetch() so it can carry the ApiKey header.
  async function openStream() {
    if (streaming || streamRefused || !info || !info.grants.changes) return;
    const controller = new AbortController();
    streaming = controller;
    let silence = null;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
    };
    let wasLive = false;
    let unreachable = false; // the request itself failed: no answer at all
    try {
      const response = await fetch(`/api/booking/changes/stream?space=${encodeURIComponent(space)}`, {
        headers: { ApiKey: settings().key, Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) streamRefused = true;
      if (!response.ok || !response.body) return;
      live = wasLive = true;
      streamDelay = 1000;
      heard();
      refresh(); // catch up on anything that changed while the stream was down
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        heard();
        buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          // Pings are comments (": ping"); a change has a data line.
          if (event.split("\n").some((line) => line.startsWith("data:"))) refresh();
        }
      }
    } catch (error) {
      // aborted (silence) or the connection failed: reconnect below
      unreachable = !wasLive && !controller.signal.aborted;
    } finally {
      clearTimeout(silence);
      streaming = null;
      live = false;
      if (!streamRefused) {
        streamRetry = setTimeout(() => { streamRetry = null; openStream(); }, streamDelay);
        streamDelay = Math.min(streamDelay * 2, 30 * 1000);
      }
      // Lost the stream, or no answer to it: find out at once whether the server is still
      // there. A server shutting down may still answer a request or two after its streams
      // have ended; without this, the panel would say "Busy" until its next poll.
      if (wasLive || unreachable) refresh();
      else schedule();
    }
  }

  function bookable(minutes, t) {
    // Would [start - prep, start + minutes + cleanup) overlap anything? (the server's own rule)
    const start = Math.floor(t / MINUTE) * MINUTE;
    const from = start - info.preparation_minutes * MINUTE;
    const till = start + (minutes + info.cleanup_minutes) * MINUTE;
    return !items.some((item) => item.blockedStart < till && from < item.blockedEnd);
  }

  function extendable(current, minutes) {
    const till = current.end + (minutes + info.cleanup_minutes) * MINUTE;
    return !items.some((item) => item !== current && item.blockedStart < till && current.blockedStart < item.blockedEnd);
  }

  // Check-in rules, as domain/checkin.py applies them on the server.
  const rules = () => info.check_in;
  const opensAt = (item) => item.start - rules().opens_minutes * MINUTE;
  const releaseAt = (item) =>
    rules().required && rules().auto_release_minutes > 0 ? item.start + rules().auto_release_minutes * MINUTE : null;
  function checkInOpen(item, t) {
    const deadline = releaseAt(item);
    return !item.checkedIn && opensAt(item) <= t && t < item.end && (deadline === null || t < deadline);
  }

  function render() {
    if (!info) {
      if (offline) {
        $("[data-state]").className = "state offline";
        $("[data-state-word]").textContent = "Offline";
        $("[data-state-detail]").textContent = "The server cannot be reached. Retrying…";
      }
      return;
    }
    const t = now();
    $("[data-name]").textContent = info.description || info.space_id;
    $("[data-id]").textContent = info.description ? info.space_id : "";
    $("[data-clock]").textContent = clockText(t);
    const current = items.find((item) => item.start <= t && t < item.end);
    const upcoming = items.filter((item) => item.start > t).sort((a, b) => a.start - b.start);
    const state = $("[data-state]");
    if (offline) {
      state.className = "state offline";
      $("[data-state-word]").textContent = "Offline";
      $("[data-state-until]").textContent = "";
      $("[data-state-detail]").textContent =
        "The server cannot be reached. Retrying…\nWhat is shown may be out of date.";
    } else if (current) {
      state.className = "state busy";
      $("[data-state-word]").textContent = "Busy";
      $("[data-state-until]").textContent = `until ${at(current.end, t)}`;
      const door = current.checkedIn
        ? `Checked in at ${clockText(current.checkedIn)}`
        : releaseAt(current) !== null ? "Not checked in yet" : "";
      $("[data-state-detail]").textContent =
        [current.description || "Reserved", current.who, door].filter(Boolean).join("\n");
    } else {
      state.className = "state free";
      $("[data-state-word]").textContent = "Free";
      const next = upcoming[0];
      $("[data-state-until]").textContent = next ? `until ${at(next.start, t)}` : "for the rest of the day";
      const cleaning = items.find((item) => item.end <= t && t < item.blockedEnd);
      const preparing = items.find((item) => item.blockedStart <= t && t < item.start);
      $("[data-state-detail]").textContent = cleaning
        ? `Being cleaned up until ${at(cleaning.blockedEnd, t)}`
        : preparing ? `Being prepared for ${at(preparing.start, t)}` : "";
    }
    renderDoor(current, t);
    renderNext(upcoming, t);
    const book = $("[data-book]");
    // Book now is for a free room; while a meeting runs, the door's actions take its place.
    book.hidden = !info.bookable || !info.grants.REST_CreateReservation || Boolean(current);
    document.querySelectorAll("[data-minutes]").forEach((button) => {
      const minutes = Number(button.dataset.minutes);
      const free = bookable(minutes, t);
      button.disabled = acting || offline || !free;
      button.title = free ? `Book ${minutes} minutes from now` : `Not free for ${minutes} minutes`;
    });
  }

  function renderDoor(current, t) {
    const section = $("[data-door]");
    // Check-in is offered where the space asks for it (elsewhere it is allowed, but noise).
    const candidate = rules().required ? items.find((item) => checkInOpen(item, t)) : null;
    const running = current || null;
    section.hidden = !info.grants.checkin || (!candidate && !running);
    if (section.hidden) return;
    const checkIn = $("[data-check-in]");
    checkIn.hidden = !candidate;
    const countdownLine = $("[data-countdown]");
    if (candidate) {
      $("[data-door-title]").textContent = "Check in";
      const title = candidate.description || "Reserved";
      $("[data-door-text]").textContent = `${clockText(candidate.start)}–${clockText(candidate.end)} ${title}`;
      checkIn.dataset.id = candidate.id;
      const deadline = releaseAt(candidate);
      countdownLine.textContent = deadline === null
        ? "Check-in is open."
        : `Released in ${countdown(deadline - t)} unless someone checks in`;
      countdownLine.classList.toggle("urgent", deadline !== null && deadline - t < 3 * MINUTE);
    } else {
      $("[data-door-title]").textContent = "This meeting";
      countdownLine.classList.remove("urgent");
      $("[data-door-text]").textContent = running.checkedIn
        ? `Checked in at ${clockText(running.checkedIn)}; ends ${clockText(running.end)}`
        : `Ends ${clockText(running.end)}`;
      countdownLine.textContent = "";
    }
    checkIn.disabled = acting || offline;
    const end = $("[data-end]");
    end.hidden = !running;
    end.disabled = acting || offline;
    if (running) end.dataset.id = running.id;
    document.querySelectorAll("[data-extend]").forEach((button) => {
      const minutes = Number(button.dataset.extend);
      button.hidden = !running;
      if (!running) return;
      button.dataset.id = running.id;
      const free = extendable(running, minutes);
      button.disabled = acting || offline || !free;
      button.title = free ? `End ${minutes} minutes later` : `The room is booked after this meeting`;
    });
  }

  function renderNext(upcoming, t) {
    const list = $("[data-next]");
    list.replaceChildren();
    upcoming.slice(0, 3).forEach((item) => {
      const li = document.createElement("li");
      const when = li.appendChild(document.createElement("span"));
      when.className = "when";
      if (!sameDay(item.start, t)) {
        const day = when.appendChild(document.createElement("span"));
        day.className = "day";
        day.textContent = new Intl.DateTimeFormat("en-GB", {
          timeZone: info.time_zone, weekday: "long",
        }).format(new Date(item.start));
      }
      when.appendChild(document.createTextNode(`${clockText(item.start)}–${clockText(item.end)}`));
      const what = li.appendChild(document.createElement("span"));
      what.className = "what";
      what.textContent = (item.checkedIn ? "✓ " : "") + (item.description || "Reserved");
      const who = li.appendChild(document.createElement("span"));
      who.className = "who";
      who.textContent = item.who;
      list.appendChild(li);
    });
    if (!upcoming.length) {
      const li = list.appendChild(document.createElement("li"));
      li.className = "muted";
      li.textContent = "Nothing else booked.";
    }
  }

  // Actions: say what happened in ``note``, then show the new state.
  async function act(note, working, attempt, describe) {
    acting = true;
    render();
    note.className = "note";
    note.textContent = working;
    try {
      const answer = await attempt();
      note.className = answer.ok ? "note good" : "note bad";
      note.textContent = answer.ok ? describe(answer.body) : answer.body.message || `Refused (${answer.status}).`;
    } catch (error) {
      note.className = "note bad";
      note.textContent = "No connection to the server; nothing changed.";
    } finally {
      acting = false;
      await refresh();
    }
  }

  function bookNow(minutes) {
    const start = Math.floor(now() / MINUTE) * MINUTE;
    const end = start + minutes * MINUTE;
    return act($("[data-book-note]"), "Booking…", () => workflow("REST_CreateReservation", {
      ExternalId: `panel-${crypto.getRandomValues(new Uint32Array(2)).join("")}`,
      Description: "Booked at the door",
      SpaceId: space,
      StartTime: utc(start),
      EndTime: utc(end),
      ApplicantId: settings().applicant,
    }), (answer) => `Booked until ${clockText(end)} (reservation ${answer.Properties.UltimoId}).`);
  }

  const doorNote = () => $("[data-door-note]");
  const checkIn = (id) => act(doorNote(), "Checking in…", () => atTheDoor(id, "check-in"),
    (answer) => `Checked in at ${clockText(instant(answer.checked_in_at))}.`);
  const endNow = (id) => act(doorNote(), "Ending…", () => atTheDoor(id, "end"),
    (answer) => `Ended at ${clockText(instant(answer.end))}; the room is free.`);
  const extend = (id, minutes) => act(doorNote(), "Extending…", () => atTheDoor(id, "extend", { minutes }),
    (answer) => `Extended until ${clockText(instant(answer.end))}.`);

  document.addEventListener("DOMContentLoaded", () => {
    takeSettingsFromAddress();
    document.querySelectorAll("[data-minutes]").forEach((button) => {
      button.addEventListener("click", () => bookNow(Number(button.dataset.minutes)));
    });
    $("[data-check-in]").addEventListener("click", (event) => checkIn(event.currentTarget.dataset.id));
    $("[data-end]").addEventListener("click", (event) => endNow(event.currentTarget.dataset.id));
    document.querySelectorAll("[data-extend]").forEach((button) => {
      button.addEventListener("click", () => extend(button.dataset.id, Number(button.dataset.extend)));
    });
    $("[data-setup]").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const key = form.elements.key.value.trim() || settings().key || "";
      if (!key) { showSetup("Enter the API key."); return; }
      save({ key, applicant: form.elements.applicant.value.trim() });
      form.elements.key.value = "";
      streamRefused = false;
      refresh();
    });
    $("[data-setup-cancel]").addEventListener("click", () => { if (info) hideSetup(); });
    $("[data-settings]").addEventListener("click", () => showSetup());
    // The browser knows before any request fails; it also knows when it is back.
    window.addEventListener("offline", () => goOffline());
    window.addEventListener("online", () => refresh());
    refresh();
    setInterval(render, 1000);
  });
})();
