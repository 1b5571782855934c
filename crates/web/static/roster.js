// Progressive enhancement only: every page works without this file.
"use strict";

// The launcher is a menu button (WAI-ARIA Authoring Practices): Enter, Space or the arrow keys
// open it, the arrow keys, Home and End move through it, Escape and Tab close it. Without
// script the button opens My apps, which lists the same places.
function setUpLauncher() {
  const button = document.getElementById("launcher-button");
  const menu = document.getElementById("launcher-menu");
  if (!button || !menu) return;
  const list = menu.querySelector("ul");
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "launcher-menu");
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-labelledby", "launcher-button");
  menu.removeAttribute("aria-label");
  list.setAttribute("role", "none");
  const asItem = (link) => {
    link.setAttribute("role", "menuitem");
    link.setAttribute("tabindex", "-1");
    link.parentElement.setAttribute("role", "none");
  };
  list.querySelectorAll("a").forEach(asItem);
  const items = () => Array.from(menu.querySelectorAll('[role="menuitem"]'));

  // The person's applications come from My apps, the page the button opens without script.
  let appsLoaded = false;
  const loadApps = () => {
    if (appsLoaded) return Promise.resolve();
    appsLoaded = true;
    return fetch("/apps", { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : ""))
      .then((html) => {
        const page = new DOMParser().parseFromString(html, "text/html");
        const tiles = Array.from(page.querySelectorAll("a[data-app]"));
        tiles.reverse().forEach((tile) => {
          const li = document.createElement("li");
          const link = document.createElement("a");
          link.href = tile.getAttribute("href");
          link.textContent = tile.dataset.app;
          li.appendChild(link);
          list.insertBefore(li, list.firstChild);
          asItem(link);
        });
      })
      .catch(() => {});
  };

  const focusItem = (index) => {
    const all = items();
    if (all.length === 0) return;
    all[(index + all.length) % all.length].focus();
  };
  const open = (index) => {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    focusItem(index);
    loadApps().then(() => {
      if (!menu.hidden && !menu.contains(document.activeElement)) focusItem(index);
    });
  };
  const close = (focusButton) => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  button.addEventListener("click", (event) => {
    event.preventDefault();
    if (menu.hidden) open(0);
    else close(true);
  });
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      open(0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      open(-1);
    }
  });
  menu.addEventListener("keydown", (event) => {
    const all = items();
    const at = all.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: -1 };
    if (event.key in moves) {
      event.preventDefault();
      focusItem(moves[event.key]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  document.addEventListener("click", (event) => {
    if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) close(false);
  });
}

function setUpEmailList() {
  const set = document.getElementById("alternate-emails");
  if (!set) return;
  const list = set.querySelector(".email-list");
  const add = set.querySelector(".email-add");
  const max = Number(set.dataset.max || "10");
  const rows = () => Array.from(list.querySelectorAll(".email-row"));

  const relabel = () => {
    rows().forEach((row, i) => {
      // Only the labels follow the new order: ids stay, so links from the error summary still
      // lead to the input they were written for.
      const label = row.querySelector("label");
      const text = i === 0 ? "Alternate email address" : "Alternate email address " + (i + 1);
      label.textContent = text;
      const hidden = row.querySelector(".email-remove .visually-hidden");
      if (hidden) hidden.textContent = " " + text;
    });
    if (add) add.hidden = rows().length >= max;
  };

  const wireRemove = (row) => {
    const remove = row.querySelector(".email-remove");
    if (!remove) return;
    remove.hidden = false;
    remove.addEventListener("click", () => {
      const all = rows();
      const index = all.indexOf(row);
      if (all.length === 1) {
        row.querySelector("input").value = "";
        row.querySelector("input").focus();
        return;
      }
      row.remove();
      relabel();
      const next = rows()[Math.min(index, rows().length - 1)];
      next.querySelector("input").focus();
    });
  };

  let added = 0;
  rows().forEach(wireRemove);
  if (add) {
    add.addEventListener("click", () => {
      if (rows().length >= max) return;
      const template = rows()[rows().length - 1];
      const row = template.cloneNode(true);
      row.querySelectorAll(".field-error").forEach((e) => e.remove());
      row.querySelector(".field").classList.remove("field-invalid");
      const input = row.querySelector("input");
      added += 1;
      input.id = "alternate_email-added-" + added;
      row.querySelector("label").htmlFor = input.id;
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "emails-hint");
      list.appendChild(row);
      wireRemove(row);
      relabel();
      input.focus();
    });
  }
  relabel();
}

// The select-all box of a list ticks or clears every row's box, and shows when some are ticked.
function setUpSelectAll() {
  const all = document.getElementById("select-all");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll('input[type="checkbox"][name="id"]'));
  all.hidden = false;
  const reflect = () => {
    const ticked = boxes().filter((b) => b.checked).length;
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
  };
  all.addEventListener("change", () => {
    boxes().forEach((b) => {
      b.checked = all.checked;
    });
  });
  boxes().forEach((b) => b.addEventListener("change", reflect));
}

// A secret shown once gets a Copy button; without script it can still be selected and copied.
function setUpCopyButtons() {
  document.querySelectorAll("[data-copyable]").forEach((secret) => {
    if (!navigator.clipboard) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button-quiet copy-button";
    button.textContent = "Copy";
    const status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(secret.textContent.trim()).then(
        () => {
          button.textContent = "Copied";
          status.textContent = "Copied to the clipboard";
        },
        () => {
          status.textContent = "Could not copy: select the text and copy it instead";
        },
      );
    });
    secret.after(button, status);
  });
}

// An action asked about first opens its question in a dialog rather than on a page of its own.
function setUpDialogs() {
  document.querySelectorAll("[data-dialog]").forEach((opener) => {
    const dialog = document.getElementById(opener.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") return;
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.querySelectorAll("[data-close-dialog]").forEach((cancel) => {
      cancel.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.close();
      });
    });
    dialog.addEventListener("close", () => opener.focus());
  });
}

function focusErrors() {
  const summary = document.getElementById("error-summary") || document.getElementById("form-problem");
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
}

// Without script the admin navigation starts open; on a phone it starts folded behind Menu.
function foldNavigationOnPhones() {
  const disclosure = document.querySelector(".sidenav-disclosure");
  if (!disclosure) return;
  const phone = window.matchMedia("(max-width: 760px)");
  if (phone.matches) disclosure.open = false;
  // Wider than a phone the Menu button is hidden: the navigation must be open there.
  phone.addEventListener("change", () => {
    if (!phone.matches) disclosure.open = true;
  });
}

// Passkeys: a form marked `data-passkey` asks the server for a ceremony's options, lets the
// browser's authenticator answer, and posts the answer in its hidden fields. Without script, or
// in a browser without passkeys, such forms stay hidden and a note says why.
function setUpPasskeys() {
  const forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length || !window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) return;
  document.querySelectorAll("[data-no-passkeys]").forEach((note) => (note.hidden = true));
  let autofill = null;
  const run = async (form, mediation) => {
    const status = form.querySelector("[data-passkey-status]");
    const say = (text) => {
      if (status) status.textContent = text;
    };
    const fields = new URLSearchParams(new FormData(form));
    let signal;
    if (mediation) {
      autofill = new AbortController();
      signal = autofill.signal;
    }
    const answer = await fetch(form.dataset.options, { method: "POST", body: fields, credentials: "same-origin", signal })
      .catch(() => null);
    if (!answer) return;
    const expired = "Your page had expired. Reload it and try again.";
    const data = await answer.json().catch(() => ({ error: expired }));
    if (!answer.ok || !data.options) {
      if (!mediation) say(data.error || expired);
      return;
    }
    try {
      let credential;
      if (form.dataset.passkey === "register") {
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(data.options.publicKey);
        credential = await navigator.credentials.create({ publicKey });
      } else {
        const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(data.options.publicKey) };
        if (mediation) {
          request.mediation = mediation;
          request.signal = signal;
        }
        credential = await navigator.credentials.get(request);
      }
      form.elements.ceremony.value = data.ceremony;
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      form.submit();
    } catch (error) {
      // An autofill request ends quietly when the person chooses the button instead.
      if (!mediation) say("The passkey request was cancelled or timed out. Try again.");
    }
  };
  forms.forEach((form) => {
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (autofill) autofill.abort();
      run(form, "");
    });
  });
  const signIn = document.querySelector("form[data-passkey='sign-in']");
  if (signIn && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (available) run(signIn, "conditional");
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpPasskeys();
  foldNavigationOnPhones();
  setUpLauncher();
  setUpEmailList();
  setUpSelectAll();
  setUpCopyButtons();
  setUpDialogs();
  focusErrors();
});
