// Progressive enhancement for the editor pages: every form works without this file.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  // The CSRF token for requests made from JavaScript (forms carry it as a hidden field).
  window.newsletterCsrf = meta ? meta.content : "";
})();

// The edition editor (templates/web/editor/edition.html): titles and summaries saved, items
// moved, left out or given a new summary with fetch(), without reloading the page; drag and
// drop by an item's handle. The forms stay the fallback, and the keyboard's way.
(function () {
  const editor = document.querySelector(".edition[data-edition]");
  if (!editor) return;
  document.documentElement.classList.add("js");
  const status = document.getElementById("move-status");

  function announce(text) {
    if (status) status.textContent = text || "";
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": window.newsletterCsrf },
      body: new URLSearchParams(data),
    });
    let body;
    try {
      body = await response.json();
    } catch (e) {
      body = { error: response.status + " " + response.statusText };
    }
    if (!response.ok || body.error) {
      throw new Error(body.error || response.status + " " + response.statusText);
    }
    return body;
  }

  // -- titles and summaries ----------------------------------------------------------------
  // An item's buttons are named after its title ("Écarter : <titre>"): renamed with it.
  function retitle(li, title) {
    const old = li.dataset.title;
    if (!old || !title || old === title) return;
    const renamed = (label) => {
      const at = label.lastIndexOf(old);
      return at < 0 ? label : label.slice(0, at) + title + label.slice(at + old.length);
    };
    li.querySelectorAll("button[aria-label]").forEach((button) => {
      button.setAttribute("aria-label", renamed(button.getAttribute("aria-label")));
    });
    const include = li.querySelector("form.include");
    if (include) {
      include.dataset.includeLabel = renamed(include.dataset.includeLabel || "");
      include.dataset.excludeLabel = renamed(include.dataset.excludeLabel || "");
    }
    li.dataset.title = title;
  }

  function setState(form, text, failed) {
    const state = form.querySelector(".save-state");
    if (!state) return;
    state.textContent = text;
    state.classList.toggle("error", Boolean(failed));
  }

  async function saveText(form) {
    const fields = [form.elements.title, form.elements.summary];
    const sent = fields.map((field) => field.value);
    setState(form, form.dataset.saving);
    try {
      const answer = await post(form.action, new FormData(form));
      // An emptied field comes back as the article's own text; a field typed in since is kept.
      const back = [answer.title, answer.summary];
      fields.forEach((field, i) => {
        if (field.value === sent[i]) field.value = back[i];
      });
      retitle(form.closest("li.item"), answer.title);
      setState(form, form.dataset.saved);
    } catch (error) {
      setState(form, form.dataset.failed + " " + error.message, true);
    }
  }

  editor.querySelectorAll("form.item-text").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      saveText(form);
    });
    form.addEventListener("change", () => saveText(form));
  });

  // -- order --------------------------------------------------------------------------------
  function refresh(list) {
    const items = Array.from(list.children);
    items.forEach((li, i) => {
      const place = li.querySelector(".place");
      if (place) place.textContent = String(i + 1);
      const up = li.querySelector('button[data-direction="up"]');
      const down = li.querySelector('button[data-direction="down"]');
      if (up) up.disabled = i === 0;
      if (down) down.disabled = i === items.length - 1;
    });
  }

  function applyOrder(list, order) {
    order.forEach((id) => {
      const li = list.querySelector('li[data-item="' + id + '"]');
      if (li) list.appendChild(li);
    });
    refresh(list);
  }

  async function move(li, data, direction) {
    const list = li.parentElement;
    try {
      const answer = await post(li.dataset.move, data);
      applyOrder(list, answer.order);
      announce(answer.message);
    } catch (error) {
      announce(list.dataset.failed + " " + error.message);
    }
    if (direction) {
      // Keep the keyboard where it was: on the same button, or its pair at an end of the list.
      const other = direction === "up" ? "down" : "up";
      const same = li.querySelector('button[data-direction="' + direction + '"]');
      (same && !same.disabled ? same : li.querySelector('button[data-direction="' + other + '"]')).focus();
    }
  }

  editor.querySelectorAll("form.move").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const direction = form.elements.direction.value;
      move(form.closest("li.item"), { direction: direction }, direction);
    });
  });

  let dragged = null;
  let startPlace = 0;
  editor.querySelectorAll("ol[data-sortable]").forEach((list) => {
    list.addEventListener("dragstart", (event) => {
      const handle = event.target.closest && event.target.closest(".handle");
      if (!handle) return;
      dragged = handle.closest("li.item");
      startPlace = Array.from(list.children).indexOf(dragged) + 1;
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.item);
      event.dataTransfer.setDragImage(dragged, 16, 16);
    });
    list.addEventListener("dragover", (event) => {
      if (!dragged || dragged.parentElement !== list) return; // only within its own section
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      const over = event.target.closest && event.target.closest("li.item");
      if (!over || over === dragged || over.parentElement !== list) return;
      const box = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("drop", (event) => {
      if (dragged && dragged.parentElement === list) event.preventDefault();
    });
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      const li = dragged;
      dragged = null;
      li.classList.remove("dragging");
      const place = Array.from(list.children).indexOf(li) + 1;
      refresh(list);
      if (place !== startPlace) move(li, { to: String(place) });
    });
  });

  // -- inclusion and summaries ----------------------------------------------------------------
  const includedCount = document.getElementById("included-count");
  editor.querySelectorAll("form.include").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const li = form.closest("li.item");
      try {
        const answer = await post(form.action, new FormData(form));
        li.classList.toggle("excluded", !answer.included);
        li.querySelector(".left-out").hidden = answer.included;
        form.elements.included.value = answer.included ? "0" : "1";
        const button = form.querySelector("button");
        button.textContent = answer.included ? form.dataset.exclude : form.dataset.include;
        const label = answer.included ? form.dataset.excludeLabel : form.dataset.includeLabel;
        if (label) button.setAttribute("aria-label", label);
        // the header's count, as the server counts it (another tab may have changed it too)
        if (includedCount && answer.included_text) includedCount.textContent = answer.included_text;
        announce(answer.message);
      } catch (error) {
        announce(error.message);
      }
    });
  });

  editor.querySelectorAll("form.regenerate").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const li = form.closest("li.item");
      const text = li.querySelector("form.item-text");
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const answer = await post(form.action, new FormData(form));
        text.elements.summary.value = answer.summary;
        setState(text, answer.message);
      } catch (error) {
        setState(text, form.dataset.failed + " " + error.message, true);
      } finally {
        button.disabled = false;
      }
    });
  });

  // -- whole-page forms -----------------------------------------------------------------------
  editor.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  editor.querySelectorAll("form[data-busy]").forEach((form) => {
    form.addEventListener("submit", () => {
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      button.textContent = form.dataset.busy;
    });
  });
})();

// The preview: each frame as tall as the email in it, so the page scrolls, not the frames.
(function () {
  document.querySelectorAll("iframe.email-frame").forEach((frame) => {
    function fit() {
      const doc = frame.contentDocument;
      if (doc && doc.documentElement) frame.style.height = doc.documentElement.scrollHeight + "px";
    }
    frame.addEventListener("load", fit);
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit();
  });
})();
