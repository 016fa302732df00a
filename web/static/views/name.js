// The first screen: pick a name. Also #/name, and any screen that needs a
// session (app.next, shown once connected).
import { h } from "../lib/dom.js";

export default {
  render(app) {
    const input = h("input", {
      id: "name",
      name: "name",
      type: "text",
      required: true,
      maxLength: 32,
      autocomplete: "nickname",
      spellcheck: false,
      value: app.name,
      "aria-describedby": "name-help name-error",
    });
    const error = h("p", { id: "name-error", class: "error", role: "alert" });
    const button = h("button", { type: "submit" }, "Start chatting");
    const form = h(
      "form",
      { class: "card", onsubmit },
      h("label", { for: "name" }, "Your name"),
      input,
      h("p", { id: "name-help", class: "help" }, "1–32 characters. No sign-up: the name is yours while this tab is open."),
      error,
      button,
    );

    async function onsubmit(e) {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) return fail("Please enter a name.");
      button.disabled = true;
      error.textContent = "";
      try {
        await app.connect(name);
        const next = app.next || app.home;
        app.next = "";
        app.navigate(next);
      } catch (err) {
        fail(err.code === "invalid_name" ? "That name cannot be used: " + err.message : "Could not connect: " + err.message);
      } finally {
        button.disabled = false;
      }
    }

    function fail(msg) {
      error.textContent = msg;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }

    const invited = app.next.startsWith("r/");
    const el = h(
      "section",
      { class: "name-view" },
      h("h1", { tabIndex: -1 }, invited ? "You're invited to a chat room" : "Jump in and talk"),
      invited ? h("p", { class: "lead" }, "Pick a name to see the room and join it.") : null,
      form,
    );
    return { el, title: "Pick a name", focus: input };
  },
};
