// roomline web view: small progressive enhancements. Every page works with the forms
// alone; this adds live search, picking a range on a track, and the booking dialog.
"use strict";

(function () {
  const QUARTER = 15 * 60 * 1000;
  const WORK_STARTS_AT = 7; // the hour a day and a week open on, unless "now" is elsewhere

  function wallClock(ms, zone) {
    // The wall-clock "yyyy-MM-ddTHH:mm" of an instant in an IANA zone (datetime-local).
    const parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(ms)).forEach((p) => { parts[p.type] = p.value; });
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
  }

  function liveFilter() {
    const input = document.querySelector("[data-live-filter]");
    if (!input) return;
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      document.querySelectorAll(".tl-row[data-search]").forEach((row) => {
        row.hidden = !words.every((w) => row.dataset.search.includes(w));
      });
    });
  }

  function bookingDialog() {
    const dialog = document.getElementById("new-reservation");
    if (!dialog) return null;
    const form = dialog.querySelector("form");
    const select = form.querySelector("[data-space-select]");
    const zoneName = form.querySelector("[data-zone-name]");
    const showZone = () => {
      if (select && zoneName) {
        const option = select.selectedOptions[0];
        zoneName.textContent = option ? option.dataset.zone : "";
      }
    };
    if (select) select.addEventListener("change", showZone);
    showZone();
    const open = () => {
      if (!dialog.open) dialog.showModal();
      const first = form.querySelector(".error") ? form.querySelector("[name=start]") : null;
      (first || form.querySelector("[name=applicant_id]:placeholder-shown") ||
        form.querySelector("[name=description]")).focus();
    };
    document.querySelectorAll("[data-open-new]").forEach((button) => {
      button.addEventListener("click", open);
    });
    dialog.querySelectorAll("[data-close]").forEach((button) => {
      button.addEventListener("click", () => dialog.close());
    });
    if (dialog.hasAttribute("data-reopen")) {
      dialog.removeAttribute("open"); // shown without script; make it modal now
      dialog.showModal();
      const error = dialog.querySelector(".error");
      if (error) error.setAttribute("tabindex", "-1");
    }
    return {
      fill(space, startMs, endMs, zone) {
        if (select) {
          select.value = space;
          showZone();
        }
        form.elements.start.value = wallClock(startMs, zone);
        form.elements.end.value = wallClock(endMs, zone);
        const error = form.querySelector(".error");
        if (error) error.remove();
        open();
      },
    };
  }

  function picking(dialog) {
    document.querySelectorAll("[data-track]").forEach((track) => {
      if (track.dataset.bookable !== "true" || !dialog) return;
      const vertical = track.dataset.axis === "y";
      const startMs = Number(track.dataset.startMs);
      const endMs = Number(track.dataset.endMs);
      let anchor = null;
      let selection = null;

      const instantAt = (event) => {
        const box = track.getBoundingClientRect();
        const share = vertical
          ? (event.clientY - box.top) / box.height
          : (event.clientX - box.left) / box.width;
        const ms = startMs + Math.min(1, Math.max(0, share)) * (endMs - startMs);
        return Math.round(ms / QUARTER) * QUARTER;
      };
      const range = (event) => {
        const here = instantAt(event);
        let first = Math.min(anchor, here);
        let last = Math.max(anchor, here);
        if (last === first) last = first + 2 * QUARTER; // a click books half an hour
        return [first, last];
      };
      const draw = ([first, last]) => {
        const from = ((first - startMs) / (endMs - startMs)) * 100;
        const size = ((last - first) / (endMs - startMs)) * 100;
        if (vertical) {
          selection.style.top = `${from}%`;
          selection.style.height = `${size}%`;
        } else {
          selection.style.left = `${from}%`;
          selection.style.width = `${size}%`;
        }
        const zone = track.dataset.zone;
        selection.firstChild.textContent =
          `${wallClock(first, zone).slice(11)}–${wallClock(last, zone).slice(11)}`;
      };

      track.addEventListener("pointerdown", (event) => {
        if (event.button !== 0 || event.target.closest(".block")) return;
        event.preventDefault();
        anchor = instantAt(event);
        selection = document.createElement("span");
        selection.className = "selection";
        selection.appendChild(document.createElement("span")).className = "sel-text";
        track.appendChild(selection);
        track.setPointerCapture(event.pointerId);
        draw(range(event));
      });
      track.addEventListener("pointermove", (event) => {
        if (anchor !== null) draw(range(event));
      });
      const finish = (event, keep) => {
        if (anchor === null) return;
        const [first, last] = range(event);
        anchor = null;
        if (keep) {
          dialog.fill(track.dataset.space, first, last, track.dataset.zone);
          const dialogElement = document.getElementById("new-reservation");
          dialogElement.addEventListener("close", () => selection && selection.remove(), { once: true });
        } else {
          selection.remove();
        }
      };
      track.addEventListener("pointerup", (event) => finish(event, true));
      track.addEventListener("pointercancel", (event) => finish(event, false));
    });
  }

  function repeatChoice() {
    // The booking dialog's Repeat fieldset: show what the choice needs, preview a series.
    const form = document.querySelector("[data-new-form]");
    const choice = form && form.querySelector("[data-repeat-choice]");
    if (!choice) return;
    const ends = form.querySelector("[data-repeat-ends]");
    const result = form.querySelector("[data-preview-result]");
    const update = () => {
      form.querySelectorAll("[data-repeat-part]").forEach((part) => {
        const wanted = part.dataset.repeatPart;
        part.hidden = choice.value === "none" || (wanted !== "any" && wanted !== choice.value);
      });
      form.querySelectorAll("[data-ends]").forEach((part) => {
        part.hidden = part.dataset.ends !== ends.value;
      });
    };
    choice.addEventListener("change", update);
    ends.addEventListener("change", update);
    update();

    const line = (item) => {
      // "2030-01-14 09:00–10:00" from the answer's ISO times in the space's zone.
      const li = document.createElement("li");
      li.textContent = `${item.start.slice(0, 16).replace("T", " ")}–${item.end.slice(11, 16)}`;
      return li;
    };
    form.querySelector("[data-preview]").addEventListener("click", async () => {
      result.textContent = "Checking…";
      let answer;
      try {
        const response = await fetch("/web/series/preview", { method: "POST", body: new FormData(form) });
        answer = await response.json();
      } catch (error) {
        result.textContent = "The preview could not be loaded; try again.";
        return;
      }
      result.replaceChildren();
      if (answer.message) {
        const p = result.appendChild(document.createElement("p"));
        p.className = "error-message";
        p.textContent = answer.message;
        return;
      }
      const summary = result.appendChild(document.createElement("p"));
      summary.textContent = `${answer.occurrences.length} to book, ${answer.skipped.length} taken or skipped (${answer.rrule}).`;
      const booked = result.appendChild(document.createElement("ol"));
      booked.className = "booked";
      answer.occurrences.forEach((item) => booked.appendChild(line(item)));
      if (answer.skipped.length) {
        const skipped = result.appendChild(document.createElement("ul"));
        skipped.className = "skipped";
        answer.skipped.forEach((item) => {
          const li = skipped.appendChild(line(item));
          li.textContent += ` — ${item.code === "1015" ? "taken" : item.message}`;
        });
      }
    });
  }

  function scrollToNow() {
    // Open on working hours with the "now" line in view; earlier hours stay a scroll away.
    const box = document.querySelector("[data-timeline]");
    if (!box) return;
    const focused = location.hash ? document.querySelector(location.hash) : null;
    if (focused && focused.classList.contains("block")) {
      focused.classList.add("focus");
      focused.scrollIntoView({ block: "center", inline: "center" });
      return;
    }
    const home = box.dataset.homeZone;
    const track = box.querySelector(`[data-track][data-zone="${home}"]`) || box.querySelector("[data-track]");
    if (!track) return;
    const vertical = track.dataset.axis === "y";
    const length = vertical ? track.offsetHeight : track.offsetWidth;
    // The track's part not hidden under the sticky day headings or space labels.
    const cover = vertical
      ? (box.querySelector(".wk-head") || {}).offsetHeight || 0
      : (box.querySelector(".tl-label") || {}).offsetWidth || 0;
    const visible = (vertical ? box.clientHeight : box.clientWidth) - cover;
    const hour = length / 24;
    let start = WORK_STARTS_AT * hour;
    const line = track.querySelector("[data-now]") || box.querySelector("[data-now]");
    if (line) {
      const at = (parseFloat(vertical ? line.style.top : line.style.left) / 100) * length;
      if (at < start || at > start + visible - hour / 2) start = Math.max(0, at - hour);
    }
    if (vertical) box.scrollTop = start;
    else box.scrollLeft = start;
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const note = document.querySelector("[data-copied]");
        try {
          await navigator.clipboard.writeText(button.dataset.copy);
          if (note) note.textContent = "Copied.";
        } catch (error) {
          if (note) note.textContent = "Copying is not allowed here; select the secret and copy it.";
        }
      });
    });
  }

  function refreshWhenIdle() {
    // A wall screen keeps its timeline current; never while someone is typing or booking.
    if (!document.querySelector("[data-timeline]")) return;
    let last = Date.now();
    ["pointerdown", "keydown", "input"].forEach((type) =>
      document.addEventListener(type, () => { last = Date.now(); }, true));
    setInterval(() => {
      const dialog = document.getElementById("new-reservation");
      const busy = (dialog && dialog.open) || document.activeElement.matches("input, select, textarea");
      if (!busy && Date.now() - last > 120000) location.reload();
    }, 60000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    liveFilter();
    picking(bookingDialog());
    repeatChoice();
    scrollToNow();
    copyButtons();
    refreshWhenIdle();
  });
})();
