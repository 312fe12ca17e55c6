// roomline door panel. It holds an Ultimo API key in this tablet's localStorage and calls
// the real Ultimo workflows: REST_GetReservationsForSpace to show the state and
// REST_CreateReservation to book now. The server's clock comes from /api/panel/{space}.
"use strict";

(function () {
  const STORE = "roomline.panel";
  const MINUTE = 60 * 1000;
  const body = document.body;
  const space = body.dataset.space;
  const refreshSeconds = Number(body.dataset.refresh) || 30;
  const $ = (selector) => document.querySelector(selector);

  let info = null; // the space and the server's clock, from /api/panel/{space}
  let fetchedAt = 0; // performance.now() when ``info`` arrived
  let items = []; // the Get collection
  let booking = false;

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

  async function workflow(name, payload) {
    const headers = { ApiKey: settings().key, "Content-Type": "application/json" };
    const elementId = info.application_element_ids[name];
    if (elementId) headers.ApplicationElementId = elementId;
    const response = await fetch(`/api/V1/Action/${name}`, {
      method: "POST", headers, body: JSON.stringify(payload), cache: "no-store",
    });
    let answer = {};
    try { answer = await response.json(); } catch (error) { answer = {}; }
    return { ok: response.ok, status: response.status, body: answer };
  }

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

  async function refresh() {
    const { key } = settings();
    if (!key) { showSetup(); return; }
    try {
      const response = await fetch(`/api/panel/${encodeURIComponent(space)}`, {
        headers: { ApiKey: key }, cache: "no-store",
      });
      const answer = await response.json();
      if (response.status === 401 || response.status === 403) {
        showSetup(`The key was refused: ${answer.message}`);
        return;
      }
      if (!response.ok) { showTrouble(answer.message || `Error ${response.status}`); return; }
      info = answer;
      fetchedAt = performance.now();
      const t = now();
      const got = await workflow("REST_GetReservationsForSpace", {
        SpaceId: space, From: utc(t - 12 * 60 * MINUTE), Till: utc(t + 36 * 60 * MINUTE),
      });
      if (!got.ok) {
        if (got.status === 401 || got.status === 403) showSetup(`The key was refused: ${got.body.message}`);
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
      }));
      hideSetup();
      $("[data-updated]").textContent = `Updated ${clockText(now())}`;
      render();
    } catch (error) {
      showTrouble("No connection to the server; retrying.");
    }
  }

  function showTrouble(message) {
    const state = $("[data-state]");
    state.className = "state unknown";
    $("[data-state-word]").textContent = "Unavailable";
    $("[data-state-until]").textContent = "";
    $("[data-state-detail]").textContent = message;
    $("[data-book]").hidden = true;
  }

  function bookable(minutes, t) {
    // Would [start - prep, start + minutes + cleanup) overlap anything? (the same rule the server applies)
    const start = Math.floor(t / MINUTE) * MINUTE;
    const from = start - info.preparation_minutes * MINUTE;
    const till = start + (minutes + info.cleanup_minutes) * MINUTE;
    return !items.some((item) => item.blockedStart < till && from < item.blockedEnd);
  }

  function render() {
    if (!info) return;
    const t = now();
    $("[data-name]").textContent = info.description || info.space_id;
    $("[data-id]").textContent = info.description ? info.space_id : "";
    $("[data-clock]").textContent = clockText(t);
    const current = items.find((item) => item.start <= t && t < item.end);
    const upcoming = items.filter((item) => item.start > t).sort((a, b) => a.start - b.start);
    const state = $("[data-state]");
    if (current) {
      state.className = "state busy";
      $("[data-state-word]").textContent = "Busy";
      $("[data-state-until]").textContent = `until ${at(current.end, t)}`;
      $("[data-state-detail]").textContent =
        `${current.description || "Reserved"}\n${current.who}`;
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
      what.textContent = item.description || "Reserved";
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
    const book = $("[data-book]");
    book.hidden = !info.bookable;
    document.querySelectorAll("[data-minutes]").forEach((button) => {
      const minutes = Number(button.dataset.minutes);
      const free = bookable(minutes, t);
      button.disabled = booking || !free;
      button.title = free ? `Book ${minutes} minutes from now` : `Not free for ${minutes} minutes`;
    });
  }

  async function bookNow(minutes) {
    const note = $("[data-book-note]");
    const start = Math.floor(now() / MINUTE) * MINUTE;
    const end = start + minutes * MINUTE;
    booking = true;
    render();
    note.className = "note";
    note.textContent = "Booking…";
    try {
      const answer = await workflow("REST_CreateReservation", {
        ExternalId: `panel-${crypto.getRandomValues(new Uint32Array(2)).join("")}`,
        Description: "Booked at the door",
        SpaceId: space,
        StartTime: utc(start),
        EndTime: utc(end),
        ApplicantId: settings().applicant,
      });
      if (answer.ok) {
        note.className = "note good";
        note.textContent = `Booked until ${clockText(end)} (reservation ${answer.body.Properties.UltimoId}).`;
      } else {
        note.className = "note bad";
        note.textContent = answer.body.message || `Refused (${answer.status}).`;
      }
    } catch (error) {
      note.className = "note bad";
      note.textContent = "No connection to the server; nothing was booked.";
    } finally {
      booking = false;
      await refresh();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    takeSettingsFromAddress();
    document.querySelectorAll("[data-minutes]").forEach((button) => {
      button.addEventListener("click", () => bookNow(Number(button.dataset.minutes)));
    });
    $("[data-setup]").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const key = form.elements.key.value.trim() || settings().key || "";
      if (!key) { showSetup("Enter the API key."); return; }
      save({ key, applicant: form.elements.applicant.value.trim() });
      form.elements.key.value = "";
      refresh();
    });
    $("[data-setup-cancel]").addEventListener("click", () => { if (info) hideSetup(); });
    $("[data-settings]").addEventListener("click", () => showSetup());
    refresh();
    setInterval(refresh, refreshSeconds * 1000);
    setInterval(render, 1000);
  });
})();
