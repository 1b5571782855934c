// Progressive enhancement only: every page works without this file.
"use strict";

function setUpLauncher() {
  const button = document.getElementById("launcher-button");
  const menu = document.getElementById("launcher-menu");
  if (!button || !menu) return;
  const close = (focusButton) => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  button.addEventListener("click", (event) => {
    event.preventDefault();
    const open = menu.hidden;
    menu.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = menu.querySelector("a");
      if (first) first.focus();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) close(true);
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

function focusErrors() {
  const summary = document.getElementById("error-summary") || document.getElementById("form-problem");
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpLauncher();
  setUpEmailList();
  focusErrors();
});
