// The tools of a custom room (one made with room.create), added to the chat
// view: its shareable link with a Copy button, whether it is public, and for
// its owner and moderators what the server allows them (PROTOCOL.md, "Roles
// and moderation"): the owner's room settings (name, topic, visibility,
// delete) and, on a person in the member list, kick, ban, mute, unmute,
// promote, demote and transfer; the room's bans (room.bans) can be lifted. The server
// checks every action; the buttons only show what is worth trying.
import { h, time } from "../lib/dom.js";
import { confirmButton, css, field, modal, visibility } from "./ui.js";

const DURATIONS = [
  [300, "5 minutes"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [0, "until unmuted"],
];

// muteEnd shows when a mute ends: the time, with the date when it is not
// today (mutes last up to 30 days; the server's message says how long).
function muteEnd(until) {
  const end = new Date(until);
  const today = end.toDateString() === new Date().toDateString();
  return (today ? "" : end.toDateString() + " ") + time(until).textContent;
}

export async function mount(ctx) {
  const { app, c, room, head, side, members, me } = ctx;
  await css();
  const mutes = new Map(); // session id -> end of the mute (Unix ms, 0: until unmuted), as seen here
  const bans = new Map(); // session id -> name, bans seen here
  const role = () => members.get(me())?.role || "";

  const link = h("input", { id: "share-link", type: "text", readOnly: true, value: app.roomLink(room), onfocus: (e) => e.target.select() });
  const copy = h("button", { type: "button", class: "secondary", onclick: copyLink }, "Copy link");
  const settings = h("button", { type: "button", class: "secondary", hidden: true, onclick: openSettings }, "Room settings");
  const kind = h("span", { class: "room-kind" });
  const bar = h("div", { class: "room-tools" }, kind, h("label", { for: "share-link", class: "vh" }, "Link to this room"), link, copy, settings);
  head.append(bar);
  const banList = h("ul", { class: "members" });
  const banned = h("details", { class: "people", open: true, hidden: true }, h("summary", null, "Banned"), banList);
  side.append(banned);

  const off = c.on("moderation", (ev) => {
    if (ev.room !== room || !ev.target) return;
    const t = ev.target;
    if (ev.action === "mute") mutes.set(t.id, ev.until || 0);
    if (ev.action === "unmute") mutes.delete(t.id);
    if (ev.action === "ban") bans.set(t.id, t.name);
    if (ev.action === "unban") bans.delete(t.id);
    if (t.id === me() && (ev.action === "promote" || ev.action === "transfer")) loadBans();
    if (t.id === me() && ev.action === "mute") {
      ctx.note("You are muted" + (ev.until ? " until " + muteEnd(ev.until) : "") + ": you can read, but not send.");
    }
    ctx.changed();
  });

  // loadBans asks the server for the room's bans and mutes (owner and
  // moderators only), so that bans made before this page can be lifted too.
  async function loadBans() {
    if (!role()) return;
    try {
      const r = await c.request("room.bans", { room });
      bans.clear();
      for (const b of r.bans || []) bans.set(b.id, b.name);
      for (const m of r.mutes || []) mutes.set(m.id, m.until || 0);
      ctx.changed();
    } catch {
      // not (or no longer) a moderator: the list stays as seen here
    }
  }
  loadBans();

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(link.value);
      app.status("Link copied: anyone who has it can join this room.", "ok", 5000);
    } catch {
      link.focus();
      link.select();
      app.status("Press Ctrl+C (⌘C on a Mac) to copy the selected link.", "", 8000);
    }
  }

  // may reports whether I may act on m: the owner on anyone else, a
  // moderator on people without a role.
  const may = (m) => m.id !== me() && (role() === "owner" || (role() === "moderator" && !m.role));

  // act sends a room.* action and closes dlg, or shows the error in it.
  async function act(dlg, error, action, fields = {}) {
    error.textContent = "";
    try {
      await c.request("room." + action, { room, ...fields });
      dlg.close();
    } catch (err) {
      error.textContent = err.message;
    }
  }

  async function openMember(m) {
    const owner = role() === "owner";
    const error = h("p", { class: "error", role: "alert" });
    const reason = h("input", { id: "mod-reason", type: "text", maxLength: 200, autocomplete: "off" });
    const address = h("input", { id: "mod-address", type: "checkbox" });
    const dur = h("select", { id: "mod-duration" }, DURATIONS.map(([s, label]) => h("option", { value: s }, label)));
    const b = (label, action, fields, cls = "secondary") =>
      h("button", { type: "button", class: cls, onclick: () => act(dlg, error, action, { member: m.id, ...fields() }) }, label);
    const r = () => ({ reason: reason.value.trim() || undefined });
    const dlg = await modal(
      m.name + (m.role ? " (" + m.role + ")" : ""),
      field("Reason (optional, shown to everyone)", reason),
      h("p", { class: "buttons" }, b("Kick", "kick", r), b("Ban", "ban", () => ({ ...r(), address: address.checked || undefined }), "danger")),
      h("p", { class: "check" }, address, h("label", { for: "mod-address" }, "Ban their network address too")),
      h(
        "p",
        { class: "buttons" },
        h("label", { for: "mod-duration" }, "Mute for"),
        dur,
        b("Mute", "mute", () => ({ duration: +dur.value || undefined })),
        b("Unmute", "unmute", () => ({})),
      ),
      owner
        ? h(
            "p",
            { class: "buttons" },
            m.role === "moderator" ? b("Remove as moderator", "demote", () => ({})) : b("Make moderator", "promote", () => ({})),
            confirmButton("Make owner", "Yes, make " + m.name + " the owner", () => act(dlg, error, "transfer", { member: m.id })),
          )
        : null,
      error,
      h("p", { class: "buttons" }, h("button", { type: "button", onclick: () => dlg.close() }, "Close")),
    );
    reason.focus();
  }

  async function openSettings() {
    const info = ctx.info();
    const name = h("input", { id: "set-name", type: "text", required: true, maxLength: 64, value: info.name || "" });
    const topic = h("input", { id: "set-topic", type: "text", maxLength: 200, value: info.topic || "" });
    const error = h("p", { class: "error", role: "alert" });
    const form = h(
      "form",
      { onsubmit },
      field("Name", name),
      field("Topic", topic),
      visibility(info.public),
      error,
      h(
        "p",
        { class: "buttons" },
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", class: "secondary", onclick: () => dlg.close() }, "Cancel"),
      ),
      h(
        "p",
        { class: "buttons" },
        confirmButton("Delete room", "Yes, delete it for everyone", () => act(dlg, error, "delete")),
      ),
    );
    const dlg = await modal("Room settings", form);
    topic.focus();

    function onsubmit(e) {
      e.preventDefault();
      const f = {};
      if (name.value.trim() !== info.name) f.name = name.value.trim();
      if (topic.value.trim() !== (info.topic || "")) f.topic = topic.value.trim();
      const vis = form.elements.visibility.value;
      if ((vis === "public") !== !!info.public) f.visibility = vis;
      if (!Object.keys(f).length) return dlg.close();
      act(dlg, error, "update", f);
    }
  }

  function update() {
    const info = ctx.info();
    kind.textContent = info.public ? "Public room" : "Private room";
    settings.hidden = role() !== "owner";
    banned.hidden = !role() || !bans.size;
    banList.replaceChildren(
      ...[...bans].map(([id, name]) =>
        h(
          "li",
          null,
          name,
          " ",
          h("button", { type: "button", class: "secondary small", "aria-label": "Unban " + name, onclick: () => unban(id) }, "Unban"),
        ),
      ),
    );
  }

  async function unban(id) {
    try {
      await c.request("room.unban", { room, member: id });
    } catch (err) {
      ctx.note("Could not unban: " + err.message);
    }
  }

  return {
    member(m) {
      const until = mutes.get(m.id);
      const muted = until !== undefined && (until === 0 || until > Date.now());
      return [
        muted ? h("span", { class: "role" }, " · muted") : null,
        may(m)
          ? h("button", { type: "button", class: "secondary small mod", "aria-label": "Moderate " + m.name, onclick: () => openMember(m) }, "Moderate")
          : null,
      ];
    },
    update,
    destroy() {
      off();
      bar.remove();
      banned.remove();
    },
  };
}
